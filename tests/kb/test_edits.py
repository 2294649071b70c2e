"""Pure edits of a page: only the lines they must change, verified."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlnotes.kb.edits import (
    add_question_text,
    reopen_text,
    resolve_text,
    set_mark_text,
    verify_edit,
)
from dlnotes.kb.errors import StudyError
from dlnotes.kb.grammar import split_lines
from dlnotes.kb.notes import parse_page

PAGE = """\
# 卷积

## 疑问

- [ ] 共享的是什么参数？ #Q-cnn-01
- [x] 旧问题？ #Q-cnn-02 ✅ 2026-01-01

    旧答案。

- [ ] 最后一个 #Q-cnn-03

## 资料

- [ ] [A](https://a.org/)
    - [ ] 嵌套章节
"""


def test_resolve_inserts_the_answer_and_touches_nothing_else() -> None:
    parsed = parse_page(PAGE, "cnn/x.md")
    new = resolve_text(parsed, "Q-cnn-01", date="2026-11-22", answer="因为\n\n  缩进")
    lines = split_lines(new)
    assert lines[4:10] == [
        "- [x] 共享的是什么参数？ #Q-cnn-01 ✅ 2026-11-22\n",
        "\n",
        "    因为\n",
        "\n",
        "      缩进\n",
        "\n",
    ]
    assert lines[10:] == split_lines(PAGE)[5:]
    assert lines[:4] == split_lines(PAGE)[:4]
    q = parse_page(new, "cnn/x.md").question("Q-cnn-01")
    assert q is not None and q.answer == "因为\n\n  缩进" and q.resolved == "2026-11-22"


def test_resolve_replaces_an_existing_answer_and_redates() -> None:
    parsed = parse_page(PAGE, "cnn/x.md")
    new = resolve_text(parsed, "Q-cnn-02", date="2026-11-23", answer="新答案")
    q = parse_page(new, "cnn/x.md").question("Q-cnn-02")
    assert q is not None and (q.answer, q.resolved) == ("新答案", "2026-11-23")
    assert "旧答案" not in new
    kept = resolve_text(parsed, "Q-cnn-02", date="2026-11-23", answer=None)
    assert "旧答案" in kept and "✅ 2026-11-23" in kept


def test_reopen_keeps_the_answer_and_drops_the_date() -> None:
    parsed = parse_page(PAGE, "cnn/x.md")
    new = reopen_text(parsed, "Q-cnn-02")
    assert "- [ ] 旧问题？ #Q-cnn-02\n" in new
    q = parse_page(new, "cnn/x.md").question("Q-cnn-02")
    assert q is not None and (q.status, q.resolved, q.answer) == (
        "open",
        None,
        "旧答案。",
    )


def test_marks_change_one_character() -> None:
    parsed = parse_page(PAGE, "cnn/x.md")
    r = parsed.resources[0]
    new = set_mark_text(parsed, r.line, "/")
    a, b = split_lines(PAGE), split_lines(new)
    assert [i for i in range(len(a)) if a[i] != b[i]] == [r.line - 1]
    assert b[r.line - 1] == "- [/] [A](https://a.org/)\n"


def test_add_question_goes_under_the_question_heading() -> None:
    parsed = parse_page(PAGE, "cnn/x.md")
    new = add_question_text(parsed, "  新的\n问题？ ", "Q-cnn-04")
    lines = split_lines(new)
    assert lines[9:11] == [
        "- [ ] 最后一个 #Q-cnn-03\n",
        "- [ ] 新的 问题？ #Q-cnn-04\n",
    ]
    assert len(lines) == len(split_lines(PAGE)) + 1


def test_add_question_creates_the_heading_and_keeps_crlf() -> None:
    text = "# 页\r\n\r\n正文\r\n"
    new = add_question_text(parse_page(text, "p.md"), "为什么？", "Q-p-01")
    assert new == "# 页\r\n\r\n正文\r\n\r\n## 疑问\r\n\r\n- [ ] 为什么？ #Q-p-01\r\n"
    with pytest.raises(StudyError, match="ID"):
        add_question_text(parse_page(text, "p.md"), "x #Q-p-09", "Q-p-01")


def test_no_final_newline_is_preserved() -> None:
    text = "- [ ] q #Q-a-01\n- [ ] r #Q-a-02"
    parsed = parse_page(text, "p.md")
    assert resolve_text(parsed, "Q-a-02", date="2026-01-01").endswith("✅ 2026-01-01")
    new = resolve_text(parsed, "Q-a-02", date="2026-01-01", answer="ans")
    assert new == "- [ ] q #Q-a-01\n- [x] r #Q-a-02 ✅ 2026-01-01\n\n    ans"


def test_an_answer_that_breaks_the_page_is_refused() -> None:
    parsed = parse_page(PAGE, "cnn/x.md")
    for answer in ("```python\nx = 1", "- [ ] sneaky #Q-cnn-09"):
        new = resolve_text(parsed, "Q-cnn-01", date="2026-01-01", answer=answer)
        with pytest.raises(StudyError, match="refusing"):
            verify_edit(parsed, new, "Q-cnn-01")


# --------------------------------------------------------------------------- #
# Property: random Markdown, random edits, only the target lines change
# --------------------------------------------------------------------------- #

WORDS = st.sampled_from(
    ["卷积", "参数共享", "ResNet", "梯度", "为什么", "x", "**粗体**", "$a_i$", "`code`"]
)
TEXT = st.lists(WORDS, min_size=1, max_size=4).map(" ".join)
EOL = st.sampled_from(["\n", "\r\n"])


@st.composite
def documents(draw: st.DrawFn) -> str:
    eol = draw(EOL)
    n_questions = 0
    blocks: list[str] = []
    for _ in range(draw(st.integers(1, 9))):
        kind = draw(
            st.sampled_from(
                ["heading", "para", "question", "resource", "chapter", "fence", "blank"]
            )
        )
        indent = draw(st.sampled_from(["", "", "    "])) if kind != "heading" else ""
        mark = draw(st.sampled_from([" ", "x", "/"]))
        if kind == "heading":
            blocks.append(f"{'#' * draw(st.integers(1, 3))} {draw(TEXT)}")
        elif kind == "para":
            blocks.append(draw(TEXT))
        elif kind == "question":
            n_questions += 1
            qid = f"Q-t-{n_questions:02d}"
            if mark == "x":
                day = f"2026-01-0{n_questions % 9 + 1}"
                line = f"{indent}- [x] {draw(TEXT)} #{qid} ✅ {day}"
                if draw(st.booleans()):
                    line += f"{eol}{eol}{indent}    {draw(TEXT)}"
                blocks.append(line)
            else:
                blocks.append(f"{indent}- [ ] {draw(TEXT)} #{qid}")
        elif kind == "resource":
            blocks.append(
                f"{indent}- [{mark}] [{draw(TEXT)}](https://e.org/{len(blocks)})"
            )
        elif kind == "chapter":
            blocks.append(f"{indent}- [{mark}] 第 {len(blocks)} 章 {draw(TEXT)}")
        elif kind == "fence":
            blocks.append(f"```{eol}- [ ] 不是问题 #Q-t-99{eol}```")
        else:
            blocks.append("")
    sep = draw(st.sampled_from([eol, eol + eol]))
    text = sep.join(blocks)
    return text + (eol if draw(st.booleans()) else "")


ANSWER = st.one_of(
    st.none(), st.lists(TEXT, min_size=1, max_size=3).map("\n".join), st.just("  ")
)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(doc=documents(), data=st.data())
def test_random_edits_change_only_their_lines(doc: str, data: st.DataObject) -> None:
    parsed = parse_page(doc, "t/p.md")
    items = [*parsed.questions, *parsed.resources, *parsed.chapters]
    old = split_lines(doc)
    crlf = doc.count("\r\n") > doc.count("\n") - doc.count("\r\n")
    if not items or data.draw(st.integers(0, 5)) == 0:
        new = add_question_text(parsed, data.draw(TEXT), "Q-t-50")
        verify_edit(parsed, new, "Q-t-50", added=True)
        # new == doc[:k] + inserted + doc[k:], with k at a line boundary
        k = 0
        while k < len(doc) and k < len(new) and doc[k] == new[k]:
            k += 1
        k = doc.rfind("\n", 0, k) + 1 if k < len(doc) else k
        assert new.startswith(doc[:k]) and new.endswith(doc[k:])
        inserted = new[k : len(new) - (len(doc) - k)]
        kept = {"", "## 疑问", "### 疑问"}
        assert "#Q-t-50" in inserted
        assert all(
            line in kept or line.endswith("#Q-t-50")
            for line in inserted.replace("\r\n", "\n").split("\n")
        )
        return
    item = data.draw(st.sampled_from(items))
    if item in parsed.questions:
        action = data.draw(st.sampled_from(["resolve", "reopen"]))
        q = parsed.question(item.id)
        assert q is not None
        if action == "resolve":
            answer = data.draw(ANSWER)
            new = resolve_text(parsed, q.id, date="2026-11-22", answer=answer)
        else:
            new = reopen_text(parsed, q.id)
        after = verify_edit(parsed, new, q.id)
        q2 = after.question(q.id)
        assert q2 is not None
        assert q2.status == ("resolved" if action == "resolve" else "open")
        first, last = q.line - 1, q.end_line  # the question and its answer block
    else:
        mark = data.draw(st.sampled_from([" ", "/", "x"]))
        new = set_mark_text(parsed, item.line, mark)
        after = verify_edit(parsed, new, item.id)
        fresh = after.resource(item.id) or after.chapter(item.id)
        assert fresh is not None and fresh.mark == mark
        first, last = item.line - 1, item.line
    lines = split_lines(new)
    assert lines[:first] == old[:first]  # every line before the item: identical
    tail = old[last:]
    if tail:
        assert lines[len(lines) - len(tail) :] == tail  # every line after: identical
    if crlf:
        assert all(line.endswith("\r\n") for line in lines[:-1])


# --------------------------------------------------------------------------- #
# Files: atomicity, locking, racing writers, killed writers, unwritable files
# --------------------------------------------------------------------------- #
