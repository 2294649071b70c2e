"""Pure edits of a page: a parsed page in, the new text out.

Every edit changes only the lines it must; every other byte of the file stays
identical (CRLF and LF files, a missing final newline, Chinese text, nested lists).
:func:`verify_edit` then parses the result again and refuses it when any other
tracked item changed (an answer with an unclosed code fence, say).
:mod:`dlnotes.kb.store` runs them under the lock and writes the result back.

Decisions: resolving with an answer *replaces* an existing answer (``--edit`` starts
from the existing one, so nothing is lost by accident); resolving without an answer
keeps the existing one; reopening keeps the answer and removes the date.
"""

from __future__ import annotations

import re
import textwrap

from dlnotes.kb.errors import NotFound, StudyError
from dlnotes.kb.grammar import (
    BULLET_ITEM_RE,
    DONE_DATE_RE,
    DONE_MARK,
    QUESTION_HEADING,
    QUESTION_RE,
    REVIEW_COMMENT_RE,
    TASK_RE,
    dominant_ending,
    indent_width,
    is_blank,
    is_question_heading,
    line_body,
    line_ending,
    question_line,
)
from dlnotes.kb.notes import ParsedPage, Question, parse_page


def _task_line(parsed: ParsedPage, line_no: int) -> tuple[str, re.Match[str], str]:
    line = parsed.lines[line_no - 1]
    body = line_body(line)
    m = TASK_RE.match(body)
    if m is None:  # pragma: no cover - the parser found a task on this line
        raise StudyError(f"{parsed.page}:{line_no}: not a checkbox item")
    return body, m, line_ending(line)


def _with_mark(body: str, m: re.Match[str], mark: str) -> str:
    pos = m.start("mark")
    return body[:pos] + mark + body[pos + 1 :]


def normalize_answer(answer: str) -> list[str]:
    """The answer's lines: newlines unified, common indent and edge blanks removed."""
    text = answer.replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.rstrip() for line in textwrap.dedent(text).split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _replace_block(
    lines: list[str], start: int, stop: int, new: list[str], eol: str
) -> list[str]:
    """``lines[start:stop] = new`` where ``new`` holds bodies; endings are added.

    When the replaced block ended the file without a final newline, the new block
    ends the same way.
    """
    ends_file = stop >= len(lines)
    if stop > start:
        last_had_ending = bool(line_ending(lines[stop - 1]))
    else:
        last_had_ending = start == 0 or bool(line_ending(lines[start - 1]))
    if ends_file and start > 0 and not line_ending(lines[start - 1]):
        lines[start - 1] += eol
    block = [body + eol for body in new]
    if ends_file and block and not last_had_ending:
        block[-1] = block[-1][: -len(eol)]
    return lines[:start] + block + lines[stop:]


def _question_line(
    parsed: ParsedPage, qid: str
) -> tuple[Question, str, re.Match[str], str, int]:
    """Question ``qid``, its task line (body, match, ending) and where its ID ends."""
    q = parsed.question(qid)
    if q is None:
        raise NotFound(f"{parsed.page}: no question {qid}")
    body, m, end = _task_line(parsed, q.line)
    qm = QUESTION_RE.match(m["rest"])
    assert qm is not None
    return q, body, m, end, m.start("rest") + qm.end("id")


def resolve_text(
    parsed: ParsedPage, qid: str, *, date: str, answer: str | None = None
) -> str:
    """The page text with question ``qid`` resolved on ``date``.

    ``answer`` (Markdown) replaces the existing answer, indented 4 spaces below the
    question after a blank line; ``None`` or blank keeps the existing answer. When
    the block below the question holds other tracked items (a nested question or
    resource), nothing is removed: the answer goes in above them.
    """
    q, body, m, end, id_end = _question_line(parsed, qid)
    new_body = (
        _with_mark(body, m, "x")[:id_end] + f" {DONE_MARK} {date}" + _comments(body, m)
    )
    lines = list(parsed.lines)
    eol = end or dominant_ending(lines)
    lines[q.line - 1] = new_body + end
    answer_lines = normalize_answer(answer) if answer is not None else []
    if not answer_lines:
        return "".join(lines)
    pad = " " * (indent_width(body) + 4)
    block = [""] + [pad + line if line else "" for line in answer_lines]
    start = q.line  # 0-based index of the line after the question
    lines_of_items = [x.line for x in parsed.questions]
    lines_of_items += [x.line for x in parsed.resources]
    lines_of_items += [x.line for x in parsed.chapters]
    nested = any(q.line < n <= q.end_line for n in lines_of_items)
    if q.end_line > q.line and not nested:  # replace the old answer
        return "".join(_replace_block(lines, start, q.end_line, block, eol))
    if start < len(lines) and not is_blank(lines[start]):
        block.append("")  # keep the next item or paragraph apart from the answer
    return "".join(_replace_block(lines, start, start, block, eol))


def reopen_text(parsed: ParsedPage, qid: str) -> str:
    """The page text with question ``qid`` open again (date removed, answer kept)."""
    q, body, m, end, id_end = _question_line(parsed, qid)
    lines = list(parsed.lines)
    lines[q.line - 1] = _with_mark(body, m, " ")[:id_end] + _comments(body, m) + end
    return "".join(lines)


def _comments(body: str, m: re.Match[str]) -> str:
    """The HTML comments that end a question line (its review state), verbatim."""
    qm = QUESTION_RE.match(m["rest"])
    assert qm is not None
    return qm["comments"] or ""


def set_review_text(parsed: ParsedPage, qid: str, comment: str) -> str:
    """The page text with the review comment of ``qid`` set to ``comment``.

    Only the question line changes: an existing ``<!--review …-->`` comment is
    replaced in place, else ``comment`` is appended after the line's other
    comments (an Obsidian ``<!--SR:…-->`` comment stays as it was).
    """
    if not REVIEW_COMMENT_RE.fullmatch(comment):
        raise StudyError(f"not a review comment: {comment!r}")
    q, body, _, end, id_end = _question_line(parsed, qid)
    old = REVIEW_COMMENT_RE.search(body, id_end)
    if old is not None:
        new_body = body[: old.start()] + comment + body[old.end() :]
    else:
        new_body = body.rstrip(" \t") + " " + comment
    lines = list(parsed.lines)
    lines[q.line - 1] = new_body + end
    return "".join(lines)


def set_mark_text(
    parsed: ParsedPage, line_no: int, mark: str, *, date: str | None = None
) -> str:
    """The page text with the checkbox on ``line_no`` set to ``mark``.

    ``date``: end the line with ``✅ date`` (a resource read that day) unless it
    already ends with a date; ``""`` removes such a date (marked unread again).
    """
    body, m, end = _task_line(parsed, line_no)
    new = _with_mark(body, m, mark)
    old = DONE_DATE_RE.search(new)
    if date == "" and old is not None:
        new = new[: old.start()]
    elif date and old is None:
        new = f"{new} {DONE_MARK} {date}"
    lines = list(parsed.lines)
    lines[line_no - 1] = new + end
    return "".join(lines)


def add_question_text(parsed: ParsedPage, text: str, qid: str) -> str:
    """The page text with ``- [ ] text #qid`` added to its question section.

    The section is the first heading :func:`~dlnotes.kb.grammar.is_question_heading`
    accepts (``疑问``, ``问题``, ``一些疑问和解答`` ...; up to the next
    heading of the same or a higher level). The question goes right after the last
    question of the section (after its answer block, a blank line apart), or after
    the section's last line when it has no question yet. A page without such a
    heading gets a new ``## 疑问`` section at the end.
    """
    text = " ".join(text.split())
    if not text:
        raise StudyError("the question text is empty")
    if QUESTION_RE.fullmatch(text) or "#Q-" in text:
        raise StudyError("the question text must not carry an ID; one is assigned")
    lines = list(parsed.lines)
    eol = dominant_ending(lines)
    item = question_line("", text, qid)
    heading = next((h for h in parsed.headings if is_question_heading(h.text)), None)
    if heading is None:
        level = max(2, min((h.level for h in parsed.headings), default=2))
        block = ["", "#" * level + " " + QUESTION_HEADING, "", item]
        if not lines:
            block = block[1:]
        return "".join(_replace_block(lines, len(lines), len(lines), block, eol))
    stop = next(
        (
            h.line - 1
            for h in parsed.headings
            if h.line > heading.line and h.level <= heading.level
        ),
        len(lines),
    )
    inside = [q for q in parsed.questions if heading.line < q.line <= stop]
    if inside:
        last_q = inside[-1]
        last = last_q.end_line - 1
        directly = last_q.end_line == last_q.line
    else:
        last = heading.line - 1
        for k in range(heading.line, stop):
            if not is_blank(lines[k]):
                last = k
        prev = line_body(lines[last])
        directly = last != heading.line - 1 and bool(
            TASK_RE.match(prev) or _bullet(prev)
        )
    block = [item] if directly else ["", item]
    at = last + 1
    if (
        at < len(lines)
        and not is_blank(lines[at])
        and not _bullet(line_body(lines[at]))
    ):
        block.append("")
    return "".join(_replace_block(lines, at, at, block, eol))


def _bullet(body: str) -> bool:
    return bool(BULLET_ITEM_RE.match(body))


def _signature(parsed: ParsedPage, skip: str | None) -> list[tuple[object, ...]]:
    """What must not change when item ``skip`` is edited.

    The answer of a question whose block holds ``skip`` (a resource nested in an
    answer, say) changes with it, so it is left out. An answer is compared by the
    lines of its block (their hash: blocks nested 1,000 deep hold ~n² lines, and
    their dedented text ~n³ characters).
    """
    line = 0
    if skip is not None:
        target = parsed.question(skip) or parsed.resource(skip) or parsed.chapter(skip)
        line = target.line if target else 0
    sig: list[tuple[object, ...]] = []
    bodies: list[str] = []
    if parsed.questions:
        bodies = [line_body(x) for x in parsed.questions[0].block_lines]
    for q in parsed.questions:
        if q.id != skip:
            block = (
                ()
                if q.line < line <= q.end_line
                else (q.end_line - q.line, hash(tuple(bodies[q.line : q.end_line])))
            )
            sig.append(("q", q.id, q.status, q.text, q.resolved or "", block))
    for r in parsed.resources:
        if r.id != skip:
            sig.append(("r", r.id, r.status, r.url, r.title))
    for c in parsed.chapters:
        if c.id != skip:
            sig.append(("c", c.id, c.status, c.text))
    return sig


def verify_edit(
    before: ParsedPage, after_text: str, target: str, *, added: bool = False
) -> ParsedPage:
    """Parse the edited text and check that only ``target`` changed.

    Raises :class:`StudyError` when the edit would change how the rest of the page
    parses (e.g. an answer that opens a code fence and never closes it).
    """
    after = parse_page(after_text, before.page, before.path)
    if _signature(after, target) != _signature(before, target if not added else None):
        raise StudyError(
            f"{before.page}: refusing the edit: it would change other items on the "
            "page (an unclosed code fence or a question inside the answer?)"
        )
    found = after.question(target) or after.resource(target) or after.chapter(target)
    if found is None:
        raise StudyError(f"{before.page}: refusing the edit: {target} would vanish")
    return after
