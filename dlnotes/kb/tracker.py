"""The tracker: find and change questions, resources and plan chapters.

One service over a docs folder, used by the CLI (:mod:`dlnotes.kb.commands`) and the
``mkdocs serve`` endpoint (:mod:`dlnotes.site.serve`): lookups by ID or text, and
edits that go through :func:`dlnotes.kb.store.edit_page` (locked, verified, saved
without losing a concurrent save).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from dlnotes.kb.edits import (
    add_question_text,
    reopen_text,
    resolve_text,
    set_mark_text,
)
from dlnotes.kb.errors import Ambiguous, NotFound, StudyError
from dlnotes.kb.grammar import (
    CHAPTER_ID_RE,
    RESOURCE_ID_RE,
    STATUS_MARK,
    next_question_id,
    normalize_question_id,
)
from dlnotes.kb.links import clean_url
from dlnotes.kb.notes import (
    Chapter,
    KnowledgeBase,
    ParsedPage,
    Question,
    Resource,
    iter_pages,
    page_topic,
    parse_page,
    read_note,
)
from dlnotes.kb.store import LOCK_NAME, edit_page

T = TypeVar("T")


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
        """``(page, path)`` for a docs-relative page or a path to a file in docs.

        A page may be a symlink (or sit in a symlinked folder) leading out of the
        docs folder, into an Obsidian vault say: the path returned is the one below
        the docs folder, and saving it edits the link's target.
        """
        docs = Path(os.path.abspath(self.docs_dir))
        for cand in (docs / page, Path(os.path.abspath(page))):
            cand = Path(os.path.normpath(cand))
            if cand.suffix != ".md" or not cand.is_file():
                continue
            if cand.is_relative_to(docs):
                return cand.relative_to(docs).as_posix(), cand
            real = cand.resolve()
            for rel, path in iter_pages(self.docs_dir):
                if path.resolve() == real:
                    return rel, path
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
        self,
        ref: str,
        *,
        answer: str | None = None,
        date: str | None = None,
        force: bool = False,
        replace_answer: bool = False,
    ) -> Question:
        """Resolve ``ref`` with ``answer``.

        A question that is already resolved is refused unless ``force``; then the
        old answer is kept above the new one (``replace_answer``: the new answer was
        written from the old one, as ``resolve --edit`` does, and replaces it).
        """
        q = self.find_question(ref)
        day = check_date(date) if date else today()
        if q.status == "resolved" and not force:
            raise StudyError(
                f"{q.id} is already resolved ({q.resolved or 'no date'}): "
                "use --force to resolve it again (the old answer is kept)"
            )

        def edit(parsed: ParsedPage) -> str:
            new = answer
            fresh = parsed.question(q.id)
            old = fresh.answer.strip() if fresh is not None else ""
            if (
                not replace_answer
                and fresh is not None
                and fresh.status == "resolved"
                and old
                and new is not None
                and new.strip()
            ):
                new = f"{old}\n\n{new.strip()}"
            return resolve_text(parsed, q.id, date=day, answer=new)

        return self._edit_question(q, edit)

    def reopen(self, ref: str) -> Question:
        q = self.find_question(ref)
        if q.status == "open":
            raise StudyError(f"{q.id} is already open ({q.page}:{q.line})")
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
        if RESOURCE_ID_RE.fullmatch(ref.lower()):
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
        if CHAPTER_ID_RE.fullmatch(ref.strip().lower()):
            raise NotFound(f"no plan chapter {ref.strip()}")
        return _pick("plan chapter", ref, items, lambda c: c.text)

    def _set_mark(self, item: Resource | Chapter, status: str) -> ParsedPage:
        assert item.path is not None
        mark = STATUS_MARK[status]

        def run(parsed: ParsedPage) -> tuple[str, str]:
            fresh = parsed.resource(item.id) or parsed.chapter(item.id)
            if fresh is None:
                raise NotFound(f"{item.id} is no longer on {item.page}")
            date = None
            if isinstance(item, Resource):  # the day it was read, for the history
                date = today() if status in ("read", "digested") else ""
            return set_mark_text(parsed, fresh.line, mark, date=date), item.id

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
