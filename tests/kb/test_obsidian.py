"""The Obsidian forms of the grammar: comments, tags, front matter, and the
tracker's view of them."""

from __future__ import annotations

from dlnotes.kb.grammar import COMMENT, TEXT
from dlnotes.kb.notes import parse_page
from dlnotes.kb.obsidian import find_tags, front_matter, scan, string_list


def test_comments_inline_multiline_and_in_code() -> None:
    text = (
        "公开 %%私密%% 公开\n"  # 1
        "%%\n"  # 2
        "整行私密\n"  # 3
        "%%\n"  # 4
        "`%%代码里不是注释%%` 与 %%尾%%\n"  # 5
        "```\n%%\n```\n"  # 6-8: a fence, not a comment
        "开头 %%跨\n行%% 结尾\n"  # 9-10
    )
    s = scan(text)
    assert s.prose(0) == "公开 " + " " * 6 + " 公开"
    assert [s.kinds[i] for i in (1, 2, 3)] == [COMMENT, COMMENT, COMMENT]
    assert s.code[4] == [(0, 13)]  # the `%%` in the code span opens nothing
    assert s.hidden[4] == [(16, 21)]  # only `%%尾%%` is hidden
    assert s.kinds[8] == TEXT and s.prose(8).rstrip() == "开头"
    assert s.prose(9).strip() == "结尾"
    assert s.unclosed_comment == 0
    assert scan("a %% never closed\nb\n").unclosed_comment == 1


def test_tracker_skips_questions_in_comments() -> None:
    text = (
        "## 疑问\n\n"
        "- [ ] 公开的问题 %%别人看不到的猜测%% #Q-cnn-01\n"
        "%%\n- [ ] 藏起来的问题 #Q-cnn-02\n%%\n"
        "- [ ] 另一个 #Q-cnn-03\n\n    答案 %%私密%% 部分\n"
    )
    parsed = parse_page(text, "cnn/x.md")
    assert [q.id for q in parsed.questions] == ["Q-cnn-01", "Q-cnn-03"]
    assert parsed.questions[0].text == "公开的问题"
    assert parsed.questions[1].answer == "答案  部分"
    assert "".join(parsed.lines) == text  # the lines are kept byte for byte


def test_tags() -> None:
    text = (
        "# 标题不是 #标签\n"
        "正文 #tips 和 #卷积/参数共享，#2022 不是标签，#Q-cnn-01 也不是。\n"
        "链接 [x](a.md#anchor) 与 https://x.org/#frag 里也不是；`#code` 也不是。\n"
        "## 小节 {#custom-id}\n"
        "C# 不是，(#括号里的) 与 [x](#锚点) 也不是。\n"
        "```\n#fenced\n```\n"
    )
    assert [(t.name, t.line) for t in find_tags(text)] == [
        ("tips", 2),
        ("卷积/参数共享", 2),
    ]


def test_front_matter_tags_and_aliases() -> None:
    meta = front_matter("---\ntags: [cnn, '#池化']\naliases: 池化层, Pooling\n---\n")
    assert string_list(meta["tags"]) == ["cnn", "池化"]
    assert string_list(meta["aliases"]) == ["池化层", "Pooling"]
    assert front_matter("---\n: [bad\n---\n") == {}
    assert front_matter("# no front matter\n") == {}
