"""Edit the tracked items of the notes in place, safely.

Every edit

* changes only the lines it must: every other byte of the file stays identical
  (CRLF and LF files, a missing final newline, Chinese text, nested lists);
* is checked before it is written: the page is parsed again and every other tracked
  item must be unchanged (an answer with an unclosed code fence, say, is refused);
* runs under an exclusive ``fcntl.flock`` on ``<docs>/.dlnotes.lock`` and re-reads the
  file under the lock, so racing commands (and the ``mkdocs serve`` endpoint) lose
  nothing;
* is written atomically: a temporary file in the same folder, ``fsync``, ``os.replace``,
  ``fsync`` of the folder. A writer killed at any moment leaves the old or the new
  file, never a partial one.

Decisions: resolving with an answer *replaces* an existing answer (``--edit`` starts
from the existing one, so nothing is lost by accident); resolving without an answer
keeps the existing one; reopening keeps the answer and removes the date.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import re
import stat
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from dlnotes.fileio import atomic_write
from dlnotes.kb.links import clean_url
from dlnotes.kb.notes import (
    QUESTION_RE,
    STATUS_MARK,
    TASK_RE,
    Chapter,
    KnowledgeBase,
    ParsedPage,
    Question,
    Resource,
    dominant_ending,
    indent_width,
    is_blank,
    iter_pages,
    line_body,
    line_ending,
    next_question_id,
    normalize_question_id,
    page_topic,
    parse_page,
    read_note,
)

T = TypeVar("T")

LOCK_NAME = ".dlnotes.lock"
QUESTION_HEADING = "疑问"


class StudyError(Exception):
    """An edit or lookup that cannot be done; the message is one line for the user."""

    user_error = True  # the CLI prints the message alone, without the class name


class NotFound(StudyError):
    pass


class Ambiguous(StudyError):
    pass


# --------------------------------------------------------------------------- #
# Locking and atomic writes
# --------------------------------------------------------------------------- #


@contextmanager
def locked(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_path`` (created if needed)."""
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StudyError(
            f"cannot create the lock file {lock_path}: {exc.strerror}"
        ) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def check_writable(path: Path) -> None:
    """Refuse read-only files (even for root) and folders we cannot write in."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError as exc:
        raise NotFound(f"{path}: no such file") from exc
    if not os.access(path, os.W_OK) or not mode & (stat.S_IWUSR | stat.S_IWGRP):
        raise StudyError(f"{path}: the file is read-only")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise StudyError(f"{path.parent}: cannot write in this folder")


# --------------------------------------------------------------------------- #
# Pure line edits (ParsedPage -> new text)
# --------------------------------------------------------------------------- #


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
    new_body = _with_mark(body, m, "x")[:id_end] + f" ✅ {date}"
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
    lines[q.line - 1] = _with_mark(body, m, " ")[:id_end] + end
    return "".join(lines)


def set_mark_text(parsed: ParsedPage, line_no: int, mark: str) -> str:
    """The page text with the checkbox on ``line_no`` set to ``mark``."""
    body, m, end = _task_line(parsed, line_no)
    lines = list(parsed.lines)
    lines[line_no - 1] = _with_mark(body, m, mark) + end
    return "".join(lines)


def _is_question_heading(text: str) -> bool:
    return text.strip(" :：").startswith(QUESTION_HEADING)


def add_question_text(parsed: ParsedPage, text: str, qid: str) -> str:
    """The page text with ``- [ ] text #qid`` added under its 疑问 heading.

    The section is the first heading whose text starts with 疑问 (up to the next
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
    item = f"- [ ] {text} #{qid}"
    heading = next((h for h in parsed.headings if _is_question_heading(h.text)), None)
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
    return bool(re.match(r"[ \t]*[-*+][ \t]+\S", body))


# --------------------------------------------------------------------------- #
# Verified, locked, atomic edits of one file
# --------------------------------------------------------------------------- #


def _signature(parsed: ParsedPage, skip: str | None) -> list[tuple[str, ...]]:
    """What must not change when item ``skip`` is edited.

    The answer of a question whose block holds ``skip`` (a resource nested in an
    answer, say) changes with it, so it is left out.
    """
    line = 0
    if skip is not None:
        target = parsed.question(skip) or parsed.resource(skip) or parsed.chapter(skip)
        line = target.line if target else 0
    sig: list[tuple[str, ...]] = []
    for q in parsed.questions:
        if q.id != skip:
            answer = "" if q.line < line <= q.end_line else q.answer
            sig.append(("q", q.id, q.status, q.text, q.resolved or "", answer))
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


def edit_page(
    path: Path,
    page: str,
    edit: Callable[[ParsedPage], tuple[str, str]],
    *,
    lock_path: Path,
    added: bool = False,
) -> ParsedPage:
    """Apply ``edit`` to the page at ``path`` under the lock, verified and atomic.

    ``edit(parsed) -> (new_text, target_id)`` runs on the text read *under the lock*.
    Returns the page as written. Nothing is written when the text does not change.
    """
    with locked(lock_path):
        check_writable(path)
        try:
            raw = path.read_bytes()
            old_text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise StudyError(f"{path}: not UTF-8 ({exc.reason})") from exc
        except OSError as exc:
            raise StudyError(f"{path}: {exc.strerror}") from exc
        parsed = parse_page(old_text, page, path)
        new_text, target = edit(parsed)
        after = verify_edit(parsed, new_text, target, added=added)
        if new_text != old_text:
            try:
                atomic_write(path, new_text.encode("utf-8"))
            except OSError as exc:
                raise StudyError(f"{path}: cannot write: {exc.strerror}") from exc
        return after


# --------------------------------------------------------------------------- #
# The tracker: lookups and edits over a docs folder (used by the CLI and serve)
# --------------------------------------------------------------------------- #


def today() -> str:
    return dt.date.today().isoformat()


def check_date(date: str) -> str:
    try:
        return dt.date.fromisoformat(date).isoformat()
    except ValueError as exc:
        raise StudyError(f"date must be YYYY-MM-DD, got {date!r}") from exc


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _pick(kind: str, ref: str, items: list[T], text_of: Callable[[T], str]) -> T:
    """The one item whose text contains ``ref`` (an exact match wins)."""
    key = _norm(ref)
    if not key:
        raise NotFound(f"empty {kind} reference")
    exact = [it for it in items if _norm(text_of(it)) == key]
    hits = exact or [it for it in items if key in _norm(text_of(it))]
    if not hits:
        raise NotFound(f"no {kind} matches {ref!r}")
    if len(hits) > 1:
        names = ", ".join(getattr(h, "id", "?") for h in hits[:5])
        more = f" and {len(hits) - 5} more" if len(hits) > 5 else ""
        raise Ambiguous(f"{len(hits)} {kind}s match {ref!r}: {names}{more}; use an ID")
    return hits[0]


@dataclass
class Tracker:
    """Questions, resources and plan chapters of one docs folder."""

    docs_dir: Path

    def __post_init__(self) -> None:
        self.docs_dir = Path(self.docs_dir)
        if not self.docs_dir.is_dir():
            raise StudyError(f"docs folder not found: {self.docs_dir}")

    @property
    def lock_path(self) -> Path:
        return self.docs_dir / LOCK_NAME

    def scan(self) -> KnowledgeBase:
        return KnowledgeBase.scan(self.docs_dir)

    def page_path(self, page: str) -> tuple[str, Path]:
        """``(page, path)`` for a docs-relative page or a path to a file in docs."""
        candidates = [self.docs_dir / page, Path(page)]
        docs = self.docs_dir.resolve()
        for cand in candidates:
            if cand.is_file() and cand.suffix == ".md":
                real = cand.resolve()
                if docs in real.parents:
                    return real.relative_to(docs).as_posix(), real
        raise NotFound(f"no page {page!r} in {self.docs_dir}")

    # -- questions ---------------------------------------------------------- #

    def locate_question(self, qid: str) -> Question:
        """The question with ID ``qid`` (a fast text search, then one parse)."""
        needle = f"#{qid}"
        hits: list[Question] = []
        for page, path in iter_pages(self.docs_dir):
            text = read_note(path)
            if needle not in text:
                continue
            q = parse_page(text, page, path).question(qid)
            if q is not None:
                hits.append(q)
        if not hits:
            raise NotFound(f"no question {qid}")
        if len(hits) > 1:
            where = ", ".join(f"{q.page}:{q.line}" for q in hits)
            raise Ambiguous(f"{qid} is defined more than once ({where})")
        return hits[0]

    def find_question(self, ref: str) -> Question:
        """A question by ID (``Q-cnn-01``, ``cnn-01``) or by a piece of its text."""
        qid = normalize_question_id(ref)
        if qid is not None:
            return self.locate_question(qid)
        return _pick("question", ref, self.scan().questions, lambda q: q.text)

    def _edit_question(
        self, q: Question, edit: Callable[[ParsedPage], str]
    ) -> Question:
        assert q.path is not None

        def run(parsed: ParsedPage) -> tuple[str, str]:
            if parsed.question(q.id) is None:
                raise NotFound(f"{q.id} is no longer on {q.page}")
            return edit(parsed), q.id

        after = edit_page(q.path, q.page, run, lock_path=self.lock_path)
        result = after.question(q.id)
        assert result is not None
        return result

    def resolve(
        self, ref: str, *, answer: str | None = None, date: str | None = None
    ) -> Question:
        q = self.find_question(ref)
        day = check_date(date) if date else today()
        return self._edit_question(
            q, lambda p: resolve_text(p, q.id, date=day, answer=answer)
        )

    def reopen(self, ref: str) -> Question:
        q = self.find_question(ref)
        return self._edit_question(q, lambda p: reopen_text(p, q.id))

    def default_topic(self, page: str, kb: KnowledgeBase) -> str:
        parsed = kb.page(page)
        topics = [q.topic for q in parsed.questions] if parsed else []
        if topics:
            return max(set(topics), key=topics.count)
        topic = page_topic(page)
        if topic == "home":
            topic = Path(page).stem
        topic = re.sub(r"[^a-z0-9]", "", topic.lower())
        if not topic or not topic[0].isalpha():
            raise StudyError(f"cannot derive a topic from {page!r}; pass --topic")
        return topic

    def ask(self, page: str, text: str, *, topic: str | None = None) -> Question:
        """Add an open question to ``page`` with the next free ID of its topic."""
        rel, path = self.page_path(page)
        holder: dict[str, str] = {}

        def run(parsed: ParsedPage) -> tuple[str, str]:
            # Under the lock (one lock per docs folder): IDs are unique site-wide.
            kb = self.scan()
            try:
                chosen = topic or self.default_topic(rel, kb)
                qid = next_question_id(chosen, (q.id for q in kb.questions))
            except ValueError as exc:
                raise StudyError(str(exc)) from exc
            holder["id"] = qid
            return add_question_text(parsed, text, qid), qid

        after = edit_page(path, rel, run, lock_path=self.lock_path, added=True)
        result = after.question(holder["id"])
        assert result is not None
        return result

    # -- resources and chapters --------------------------------------------- #

    def find_resource(self, ref: str, *, page: str | None = None) -> Resource:
        """A resource by ID (``r-…``), by URL (raw or cleaned) or by title text."""
        items = self.scan().resources
        if page:
            rel, _ = self.page_path(page)
            items = [r for r in items if r.page == rel]
        ref = ref.strip()
        by_id = [r for r in items if r.id == ref.lower()]
        if by_id:
            return by_id[0]
        if re.fullmatch(r"r-[0-9a-f]{8}(?:-\d+)?", ref.lower()):
            raise NotFound(f"no resource {ref}")
        if "://" in ref:
            target = clean_url(ref)
            hits = [r for r in items if r.url == ref or clean_url(r.url) == target]
            if len(hits) == 1:
                return hits[0]
            if len(hits) > 1:
                where = ", ".join(f"{r.id} ({r.page}:{r.line})" for r in hits[:5])
                raise Ambiguous(f"{len(hits)} resources link {ref}: {where}; use an ID")
            raise NotFound(f"no resource links {ref}")
        return _pick("resource", ref, items, lambda r: r.title)

    def find_chapter(self, ref: str, *, page: str | None = None) -> Chapter:
        """A plan chapter by ID (``c-…``) or by a piece of its text."""
        items = self.scan().chapters
        if page:
            rel, _ = self.page_path(page)
            items = [c for c in items if c.page == rel]
        by_id = [c for c in items if c.id == ref.strip().lower()]
        if by_id:
            return by_id[0]
        if re.fullmatch(r"c-[0-9a-f]{8}(?:-\d+)?", ref.strip().lower()):
            raise NotFound(f"no plan chapter {ref.strip()}")
        return _pick("plan chapter", ref, items, lambda c: c.text)

    def _set_mark(self, item: Resource | Chapter, status: str) -> ParsedPage:
        assert item.path is not None
        mark = STATUS_MARK[status]

        def run(parsed: ParsedPage) -> tuple[str, str]:
            fresh = parsed.resource(item.id) or parsed.chapter(item.id)
            if fresh is None:
                raise NotFound(f"{item.id} is no longer on {item.page}")
            return set_mark_text(parsed, fresh.line, mark), item.id

        return edit_page(item.path, item.page, run, lock_path=self.lock_path)

    def set_resource(
        self, ref: str, status: str, *, page: str | None = None
    ) -> Resource:
        if status not in ("unread", "read", "digested"):
            raise StudyError(
                f"resource status must be unread, read or digested: {status}"
            )
        r = self.find_resource(ref, page=page)
        after = self._set_mark(r, status).resource(r.id)
        assert after is not None
        return after

    def set_chapter(self, ref: str, status: str, *, page: str | None = None) -> Chapter:
        if status not in ("todo", "doing", "done"):
            raise StudyError(f"chapter status must be todo, doing or done: {status}")
        c = self.find_chapter(ref, page=page)
        after = self._set_mark(c, status).chapter(c.id)
        assert after is not None
        return after
