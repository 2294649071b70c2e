"""The study subcommands of ``dlnotes`` (argparse namespaces in, exit codes out).

Registered in :data:`dlnotes.cli.COMMANDS`; this module is imported only when one of
them runs. Listings go to stdout, messages to stderr. Errors raise
:class:`dlnotes.kb.errors.StudyError`, which the CLI turns into one line on stderr
and exit code 2.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from dlnotes.kb.errors import StudyError
from dlnotes.kb.notes import KnowledgeBase, Question, iter_pages
from dlnotes.kb.tracker import Tracker, check_date

CONFIG_NAMES = ("mkdocs.yml", "mkdocs.yaml")


def find_docs_dir(override: str | None = None, start: Path | None = None) -> Path:
    """``--docs``, or the ``docs_dir`` of the first ``mkdocs.yml`` found upwards."""
    if override:
        docs = Path(override)
        if not docs.is_dir():
            raise StudyError(f"docs folder not found: {docs}")
        return docs
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        for name in CONFIG_NAMES:
            config = folder / name
            if config.is_file():
                docs = folder / _docs_dir_setting(config)
                if not docs.is_dir():
                    raise StudyError(f"{config}: docs folder {docs} not found")
                return docs
    raise StudyError(f"no mkdocs.yml in {here} or above; pass --docs DIR")


def _docs_dir_setting(config: Path) -> str:
    text = config.read_text(encoding="utf-8")
    m = re.search(
        r"^docs_dir:[ \t]*['\"]?([^'\"#\r\n]+?)['\"]?[ \t]*(?:#.*)?$", text, re.M
    )
    return m[1].strip() if m else "docs"


def _tracker(args: argparse.Namespace) -> Tracker:
    return Tracker(find_docs_dir(getattr(args, "docs", None)))


def _page_arg(tracker: Tracker, page: str | None) -> str | None:
    """A ``--page`` filter as a docs-relative page (a path to the file works too)."""
    if not page:
        return None
    try:
        return tracker.page_path(page)[0]
    except StudyError:
        return page.removeprefix("docs/")


@functools.lru_cache(maxsize=4096)
def _shown(docs: Path, page: str) -> str:
    path = docs / page
    try:
        shown = os.path.relpath(path)
    except ValueError:
        shown = str(path)
    return str(path) if shown.startswith("../../") else shown


def _where(docs: Path, page: str, line: int) -> str:
    """``docs/cnn/x.md:12``, relative to the current folder when possible."""
    return f"{_shown(docs, page)}:{line}"


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


# --------------------------------------------------------------------------- #
# questions
# --------------------------------------------------------------------------- #


def filter_questions(
    kb: KnowledgeBase,
    *,
    status: str = "all",
    topic: str | None = None,
    page: str | None = None,
    text: str | None = None,
) -> list[Question]:
    items = kb.questions
    if status != "all":
        items = [q for q in items if q.status == status]
    if topic:
        items = [q for q in items if topic in (q.topic, q.section)]
    if page:
        items = [q for q in items if q.page == page]
    if text:
        key = _norm(text)
        items = [q for q in items if key in _norm(q.text) or key == q.id.casefold()]
    return items


def questions(args: argparse.Namespace) -> int:
    tracker = _tracker(args)
    kb = tracker.scan()
    every = filter_questions(
        kb,
        topic=args.topic,
        page=_page_arg(tracker, args.page),
        text=args.text,
    )
    items = [q for q in every if args.status in ("all", q.status)]
    if args.json:
        _print_json(
            [
                {
                    "id": q.id,
                    "status": q.status,
                    "text": q.text,
                    "topic": q.topic,
                    "page": q.page,
                    "line": q.line,
                    "resolved": q.resolved,
                    "answer": q.answer,
                }
                for q in items
            ]
        )
        return 0
    wid = max([len(q.id) for q in items] + [2])
    where = [_where(tracker.docs_dir, q.page, q.line) for q in items]
    wloc = max([len(w) for w in where] + [1])
    out = []
    for q, loc in zip(items, where, strict=True):
        date = f"  ✅ {q.resolved}" if q.resolved else ""
        out.append(f"{q.id:<{wid}}  {q.status:<8}  {loc:<{wloc}}  {q.text}{date}")
        if args.answers and q.answer:
            out += ["    " + line if line else "" for line in q.answer.split("\n")]
    opened = sum(q.status == "open" for q in every)
    totals = f"{len(every)} questions: {opened} open, {len(every) - opened} resolved"
    if args.status == "all":
        out.append(totals)
    else:
        out.append(
            f"{len(items)} {args.status} shown (--all for every question); {totals}"
        )
    print("\n".join(out))
    return 0


def ask(args: argparse.Namespace) -> int:
    q = _tracker(args).ask(args.page, args.text, topic=args.topic)
    print(f"{q.id}  added to {q.page}:{q.line}")
    return 0


def _answer_from_editor(initial: str) -> str:
    import shlex
    import subprocess
    import tempfile

    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    fd, name = tempfile.mkstemp(prefix="dlnotes-answer-", suffix=".md")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(initial + ("\n" if initial else ""))
        try:
            done = subprocess.run([*shlex.split(editor), name], check=False)
        except OSError as exc:
            raise StudyError(
                f"cannot run the editor {editor!r}: {exc.strerror}"
            ) from exc
        if done.returncode != 0:
            raise StudyError(f"the editor {editor!r} failed (exit {done.returncode})")
        return Path(name).read_text(encoding="utf-8")
    finally:
        os.unlink(name)


def resolve(args: argparse.Namespace) -> int:
    tracker = _tracker(args)
    date = check_date(args.date) if args.date else None
    answer: str | None = args.answer
    if args.answer_file:
        try:
            if args.answer_file == "-":
                answer = sys.stdin.read()
            else:
                answer = Path(args.answer_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise StudyError(
                f"{args.answer_file}: cannot read the answer: {exc}"
            ) from exc
    if args.edit:
        q = tracker.find_question(args.ref)
        answer = _answer_from_editor(q.answer)
        if not answer.strip():
            raise StudyError("empty answer: nothing changed")
        args = argparse.Namespace(**{**vars(args), "ref": q.id})
    q = tracker.resolve(
        args.ref,
        answer=answer,
        date=date,
        force=getattr(args, "force", False),
        replace_answer=bool(args.edit),
    )
    print(f"{q.id}  resolved {q.resolved}  {q.page}:{q.line}")
    return 0


def reopen(args: argparse.Namespace) -> int:
    q = _tracker(args).reopen(args.ref)
    print(f"{q.id}  open  {q.page}:{q.line}")
    return 0


# --------------------------------------------------------------------------- #
# resources
# --------------------------------------------------------------------------- #


def resources(args: argparse.Namespace) -> int:
    tracker = _tracker(args)
    items = tracker.scan().resources
    if args.section:
        items = [r for r in items if _norm(args.section) in _norm(r.section)]
    if args.topic:
        items = [r for r in items if r.topic == args.topic]
    if args.page:
        items = [r for r in items if r.page == _page_arg(tracker, args.page)]
    if args.text:
        key = _norm(args.text)
        items = [r for r in items if key in _norm(r.title) or key in r.url.casefold()]
    every = items  # the totals count every status
    if args.status != "all":
        items = [r for r in items if r.status == args.status]
    if args.json:
        _print_json(
            [
                {
                    "id": r.id,
                    "status": r.status,
                    "title": r.title,
                    "url": r.url,
                    "section": r.section,
                    "page": r.page,
                    "line": r.line,
                }
                for r in items
            ]
        )
        return 0
    where = [_where(tracker.docs_dir, r.page, r.line) for r in items]
    wloc = max([len(w) for w in where] + [1])
    out = [
        f"{r.id:<12}  {r.status:<8}  {loc:<{wloc}}  [{r.section}] {r.title}"
        for r, loc in zip(items, where, strict=True)
    ]
    read = sum(r.status != "unread" for r in every)
    digested = sum(r.status == "digested" for r in every)
    totals = (
        f"{read} read ({digested} digested), {len(every) - read} unread of {len(every)}"
    )
    if args.status == "all":
        out.append(f"{len(items)} resources: {totals}")
    else:
        out.append(f"{len(items)} {args.status} resources shown (all: {totals})")
    print("\n".join(out))
    return 0


def _set_resource(args: argparse.Namespace, status: str) -> int:
    r = _tracker(args).set_resource(args.ref, status, page=args.page)
    print(f"{r.id}  {r.status}  {r.page}:{r.line}  {r.title}")
    return 0


def read(args: argparse.Namespace) -> int:
    return _set_resource(args, "read")


def digest(args: argparse.Namespace) -> int:
    return _set_resource(args, "digested")


def unread(args: argparse.Namespace) -> int:
    return _set_resource(args, "unread")


# --------------------------------------------------------------------------- #
# study plans
# --------------------------------------------------------------------------- #


def plan(args: argparse.Namespace) -> int:
    tracker = _tracker(args)
    action = getattr(args, "plan_action", None) or "show"
    if action != "show":
        status = {"start": "doing", "done": "done", "todo": "todo"}[action]
        c = tracker.set_chapter(args.ref, status, page=args.page)
        print(f"{c.id}  {c.status}  {c.page}:{c.line}  {c.text}")
        return 0
    items = tracker.scan().chapters
    if args.page:
        items = [c for c in items if c.page == _page_arg(tracker, args.page)]
    if args.status and args.status != "all":
        items = [c for c in items if c.status == args.status]
    if args.grep:
        items = [c for c in items if _norm(args.grep) in _norm(c.text)]
    if getattr(args, "json", False):
        _print_json(
            [
                {
                    "id": c.id,
                    "status": c.status,
                    "text": c.text,
                    "plan": c.plan,
                    "page": c.page,
                    "line": c.line,
                }
                for c in items
            ]
        )
        return 0
    out: list[str] = []
    current = None
    symbol = {"todo": "[ ]", "doing": "[/]", "done": "[x]"}
    for c in items:
        if (c.page, c.plan) != current:
            current = (c.page, c.plan)
            done = sum(x.status == "done" for x in items if (x.page, x.plan) == current)
            total = sum((x.page, x.plan) == current for x in items)
            out.append(f"{c.page} · {c.plan or '(no heading)'}  ({done}/{total} done)")
        out.append(f"  {symbol[c.status]} {c.id:<12} {c.text}")
    done = sum(c.status == "done" for c in items)
    doing = sum(c.status == "doing" for c in items)
    out.append(f"{len(items)} chapters: {done} done, {doing} in progress")
    print("\n".join(out))
    return 0


# --------------------------------------------------------------------------- #
# progress, check, import
# --------------------------------------------------------------------------- #


def review(args: argparse.Namespace) -> int:
    from dlnotes.kb.review_session import due_table, run_session

    tracker = _tracker(args)
    if args.limit < 1 or args.new < 0:
        raise StudyError("--limit must be at least 1 and --new at least 0")
    if args.export:
        fmt, target = args.export
        if fmt != "anki":
            raise StudyError(f"--export: unknown format {fmt!r} (known: anki)")
        from dlnotes.kb.anki import export_deck

        n = export_deck(tracker.scan(), Path(target), topic=args.topic)
        print(f"{target}: {n} cards (re-importing into Anki updates them)")
        return 0
    if args.due:
        print(due_table(tracker, topic=args.topic))
        return 0
    run_session(tracker, topic=args.topic, limit=args.limit, new_limit=args.new)
    return 0


def progress(args: argparse.Namespace) -> int:
    from dlnotes.kb.progress import (
        compute_progress,
        compute_review,
        format_progress,
        format_review,
    )

    kb = _tracker(args).scan()
    review = compute_review(kb)
    if args.json:
        _print_json(
            {
                "topics": [row.as_dict() for row in compute_progress(kb)],
                "review": review.as_dict(),
            }
        )
    else:
        print(format_progress(kb, width=max(4, min(args.width, 60))))
        print(format_review(review))
    return 0


def check(args: argparse.Namespace) -> int:
    from dlnotes.kb.check import check_docs

    docs = find_docs_dir(args.docs)
    pages: set[str] | None = None
    if args.paths:
        tracker = Tracker(docs)
        pages = {tracker.page_path(p)[0] for p in args.paths}
    problems = check_docs(docs, pages=pages, relative_to=Path.cwd())
    for problem in problems:
        print(problem)
    if problems:
        print(f"dlnotes check: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    checked = len(pages) if pages is not None else sum(1 for _ in iter_pages(docs))
    print(f"dlnotes check: OK ({checked} pages, no problems)")
    return 0


def import_notes(args: argparse.Namespace) -> int:
    from dlnotes.kb.importer import run_import

    docs = find_docs_dir(args.docs)
    return run_import(
        docs,
        [Path(f) for f in args.files],
        write=args.write,
        force=args.force,
        to=args.to,
        dest=args.dest,
        topic=args.topic,
        attachments=Path(args.attachments) if args.attachments else None,
        keep_html=args.keep_html,
    )
