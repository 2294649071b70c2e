"""The parser: questions, resources and plan chapters, and what it must skip."""

from __future__ import annotations

import contextlib
import io
import os
import re
import time
from pathlib import Path

import pytest

from dlnotes.cli import main
from dlnotes.kb.grammar import (
    classify_lines,
    next_question_id,
    normalize_question_id,
    split_lines,
)
from dlnotes.kb.notes import KnowledgeBase, parse_page
from tests.support import DOCS

PAGE = """\
# 标题

## 疑问

- [ ] 共享的是什么参数？ #Q-cnn-01
- [x] 为什么一个卷积核对应一个特征图？ #Q-cnn-02 ✅ 2026-11-22

    第一段答案。

        indented code inside the answer

    ```python
    x = 1  # a fence inside the answer
    ```

* [X] 星号列表也行？ #Q-cnn-03 ✅ 2026-01-02
- [ ] 没有日期 #Q-cnn-04

## 资料

- [ ] [一张图 [图解] - CSDN](https://blog.csdn.net/a/article/details/1)
- [/] [Wiki](https://en.wikipedia.org/wiki/Convolution_(disambiguation))
    - [x] [嵌套的资料](https://example.org/nested) 读后感
    - [ ] 嵌套的章节
1. [x] 第 1 章 有序列表的章节
"""


def test_questions_have_id_text_status_answer_and_date() -> None:
    parsed = parse_page(PAGE, "cnn/x.md")
    by_id = {q.id: q for q in parsed.questions}
    assert list(by_id) == ["Q-cnn-01", "Q-cnn-02", "Q-cnn-03", "Q-cnn-04"]
    q1, q2, q3 = by_id["Q-cnn-01"], by_id["Q-cnn-02"], by_id["Q-cnn-03"]
    assert (q1.status, q1.text, q1.resolved, q1.answer) == (
        "open",
        "共享的是什么参数？",
        None,
        "",
    )
    assert (q2.status, q2.resolved, q2.line) == ("resolved", "2026-11-22", 6)
    assert q2.answer.splitlines() == [
        "第一段答案。",
        "",
        "    indented code inside the answer",
        "",
        "```python",
        "x = 1  # a fence inside the answer",
        "```",
    ]
    assert q2.end_line == 14  # the closing fence of the answer
    assert (q3.status, q3.topic, q3.anchor, q3.heading) == (
        "resolved",
        "cnn",
        "q-cnn-03",
        "疑问",
    )


def test_resources_and_chapters_with_nesting_and_ordered_lists() -> None:
    parsed = parse_page(PAGE, "cnn/x.md")
    assert [(r.title, r.status, r.section) for r in parsed.resources] == [
        ("一张图 [图解] - CSDN", "unread", "资料"),
        ("Wiki", "read", "资料"),
        ("嵌套的资料", "digested", "资料"),
    ]
    assert parsed.resources[1].url.endswith("Convolution_(disambiguation)")
    assert [(c.text, c.status) for c in parsed.chapters] == [
        ("嵌套的章节", "todo"),
        ("第 1 章 有序列表的章节", "done"),
    ]
    assert all(re.fullmatch(r"r-[0-9a-f]{8}", r.id) for r in parsed.resources)
    assert all(re.fullmatch(r"c-[0-9a-f]{8}", c.id) for c in parsed.chapters)


FENCED = """\
- item
    ```
    - [ ] fenced in a list #Q-x-01
    ```

~~~~
- [ ] tilde fence #Q-x-02
```
- [ ] still inside: a shorter/other fence does not close it #Q-x-03
~~~~

Paragraph.

    - [ ] indented code #Q-x-04

<!--
- [ ] in a comment #Q-x-05
-->

!!! note "admonition"
    - [ ] in an admonition is tracked #Q-x-06

- [ ] after everything #Q-x-07
"""


def test_code_fences_indented_code_and_comments_are_skipped() -> None:
    parsed = parse_page(FENCED, "x.md")
    assert [q.id for q in parsed.questions] == ["Q-x-06", "Q-x-07"]
    kinds = [(b.kind, b.start, b.end, b.closed) for b in parsed.code_blocks]
    assert kinds == [
        ("fence", 2, 4, True),
        ("fence", 6, 10, True),
        ("indented", 14, 14, True),
    ]


def test_unclosed_fence_swallows_the_rest() -> None:
    parsed = parse_page("```\n- [ ] q #Q-x-01\n", "x.md")
    assert parsed.questions == []
    assert parsed.code_blocks[0].closed is False


def test_front_matter_is_skipped() -> None:
    text = "---\ntitle: '- [ ] not me #Q-x-01'\n---\n- [ ] me #Q-x-02\n"
    assert [q.id for q in parse_page(text, "x.md").questions] == ["Q-x-02"]


def test_crlf_lines_keep_their_bytes_and_parse_like_lf() -> None:
    crlf = PAGE.replace("\n", "\r\n")
    lf_page, crlf_page = parse_page(PAGE, "p.md"), parse_page(crlf, "p.md")
    assert "".join(crlf_page.lines) == crlf
    assert [
        (q.id, q.text, q.answer, q.line, q.end_line) for q in crlf_page.questions
    ] == [(q.id, q.text, q.answer, q.line, q.end_line) for q in lf_page.questions]
    assert [r.id for r in crlf_page.resources] == [r.id for r in lf_page.resources]


def test_split_lines_round_trips_every_string() -> None:
    for text in ["", "a", "a\n", "a\r\nb", "\n\n", "x\u2028y\n", "a\rb\n"]:
        lines = split_lines(text)
        assert "".join(lines) == text
        assert all(line.count("\n") <= 1 for line in lines)


def test_resource_ids_are_stable_when_other_lines_change() -> None:
    page = "- [ ] [A](https://a.org/x?utm_source=z)\n- [ ] [B](https://b.org/)\n"
    before = {r.title: r.id for r in parse_page(page, "p.md").resources}
    edited = "# New heading\n\ntext\n\n" + page.replace("[ ] [B]", "[x] [B 改名]")
    after = {r.title: r.id for r in parse_page(edited, "p.md").resources}
    assert after["A"] == before["A"]
    assert after["B 改名"] == before["B"]  # the title is not part of the ID
    other_page = {r.title: r.id for r in parse_page(page, "q.md").resources}
    assert other_page["A"] != before["A"]


def test_repeated_links_on_one_page_get_distinct_ids() -> None:
    page = "- [ ] [A](https://a.org/)\n- [x] [A again](https://a.org/?spm=1)\n"
    ids = [r.id for r in parse_page(page, "p.md").resources]
    assert ids[1] == ids[0] + "-2"


def test_question_id_helpers() -> None:
    assert normalize_question_id("#q-CNN-01") == "Q-cnn-01"
    assert normalize_question_id("cnn-7") is None
    assert normalize_question_id("共享") is None
    assert next_question_id("cnn", ["Q-cnn-01", "Q-cnn-09", "Q-rnn-30"]) == "Q-cnn-10"
    assert next_question_id("new", []) == "Q-new-01"
    assert next_question_id("x", ["Q-x-099"]) == "Q-x-100"
    with pytest.raises(ValueError, match="topic"):
        next_question_id("CNN", [])


def test_classify_lines_follows_python_markdown_lists() -> None:
    lines = split_lines("- a\n\n    para in item\n\n        code in item\n")
    kinds, blocks = classify_lines(lines)
    assert kinds == [0, 0, 0, 0, 1]
    assert blocks[0].kind == "indented"


def test_scan_skips_dot_folders(tmp_path: Path) -> None:
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden/x.md").write_text("- [ ] q #Q-a-01\n", encoding="utf-8")
    (tmp_path / "y.md").write_text("- [ ] q #Q-a-02\n", encoding="utf-8")
    kb = KnowledgeBase.scan(tmp_path)
    assert [q.id for q in kb.questions] == ["Q-a-02"]


def test_the_real_notes_parse_like_the_lead_regex() -> None:
    """Every question the site's own test finds is a question here, with its ID."""
    lead = re.compile(
        r"^(?P<indent>\s*)[-*+] \[(?P<mark>[ xX])\] (?P<text>.+?)\s+"
        r"#Q-(?P<id>[a-z][a-z0-9]*-\d{2,})(?:\s+✅ (?P<date>\d{4}-\d{2}-\d{2}))?\s*$"
    )
    fence = re.compile(r"^\s*(```|~~~)")
    kb = KnowledgeBase.scan(DOCS)
    mine = {(q.page, q.line, q.id) for q in kb.questions}
    theirs = set()
    for parsed in kb.pages:
        if parsed.page == "guide/writing-notes.md":
            continue
        in_fence = False
        for n, line in enumerate(parsed.lines, 1):
            if fence.match(line):
                in_fence = not in_fence
                continue
            m = None if in_fence else lead.match(line.rstrip("\r\n"))
            if m:
                theirs.add((parsed.page, n, "Q-" + m["id"]))
    assert theirs <= mine


def _commands_time(docs: Path, qid: str) -> float:
    """Seconds for commands a user runs after an import (best of two)."""
    best = float("inf")
    for _ in range(2):
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["questions", "--docs", str(docs)]) == 0
            assert main(["resolve", qid, "--force", "--docs", str(docs)]) == 0
        best = min(best, time.perf_counter() - start)
    return best


@pytest.mark.slow
def test_a_note_with_1000_nested_questions_keeps_commands_fast(tmp_path: Path) -> None:
    # Each question nested in the one before (they carry their IDs, so the
    # importer keeps them questions): the page holds ~2 MB of indentation and
    # answers of ~n² lines. The baseline: the same questions, not nested.
    n = 1000
    items = [f"- [ ] 问题 {i}？ #Q-deep-{i:02d}\n" for i in range(1, n + 1)]
    nested = "# 深\n\n" + "".join("  " * i + item for i, item in enumerate(items))
    flat = "# 平\n\n" + "".join(items)
    timings = {}
    for name, raw in (("flat", flat), ("nested", nested)):
        docs = tmp_path / name / "docs"
        docs.mkdir(parents=True)
        source = tmp_path / name / "raw.md"
        source.write_text(raw, encoding="utf-8")
        argv = ["import", str(source), "--to", "deep/x.md", "--topic", "deep"]
        with contextlib.redirect_stderr(io.StringIO()):
            assert main([*argv, "--write", "--docs", str(docs)]) == 0
        assert len(KnowledgeBase.scan(docs).questions) == n
        timings[name] = _commands_time(docs, f"Q-deep-{n}")
    assert timings["nested"] < 8 * timings["flat"] + 1.0, timings


def test_a_note_caught_half_saved_is_read_again(tmp_path: Path) -> None:
    """An editor saving in place in two writes cuts a character in half: the
    reader waits for the rest instead of failing with UnicodeDecodeError."""
    import threading

    from dlnotes.kb.notes import read_note

    note = tmp_path / "half.md"
    full = "# 笔记\n\n- [ ] 问题？ #Q-x-01\n".encode()
    cut = full.index("笔".encode()) + 1  # inside the 3-byte character
    note.write_bytes(full[:cut])

    def finish() -> None:
        with open(note, "ab") as f:
            f.write(full[cut:])

    timer = threading.Timer(0.03, finish)
    timer.start()
    try:
        assert read_note(note) == full.decode()
    finally:
        timer.join()
    stale = tmp_path / "stale.md"
    stale.write_bytes(full[:cut])
    os.utime(stale, ns=(0, 0))  # not being saved: the error stands
    with pytest.raises(UnicodeDecodeError):
        read_note(stale)
