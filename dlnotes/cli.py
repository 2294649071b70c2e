"""The ``dlnotes`` command line (also ``python -m dlnotes``).

Every subcommand is registered once, in :data:`COMMANDS`: its name, help, a function
that declares its arguments (argparse only) and the ``"module:function"`` that runs it.
The implementation module is imported only when its command runs, so importing
``dlnotes.cli`` (or running ``dlnotes questions``) never imports torch; a future
torch-based command (``train``) adds one :class:`Command` whose target module imports
torch.

Errors the user can fix (unknown IDs, ambiguous matches, unwritable files, bad
arguments) print one line on stderr and exit with code 2, without a traceback; set
``DLNOTES_DEBUG=1`` to see the traceback of an unexpected error.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NoReturn

from dlnotes.train.config import add_arguments as _train_arguments

EXIT_USAGE = 2


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    target: str  # "package.module:function", imported lazily
    aliases: tuple[str, ...] = ()
    description: str = ""


class Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (exit code 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _docs(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--docs",
        metavar="DIR",
        help="docs folder (default: docs_dir of the mkdocs.yml found from the "
        "current folder upwards)",
    )


def _json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON")


def _questions(p: argparse.ArgumentParser) -> None:
    _docs(p)
    p.add_argument("text", nargs="?", help="only questions whose text contains TEXT")
    status = p.add_mutually_exclusive_group()
    status.add_argument(
        "--status",
        choices=["open", "resolved", "all"],
        default="open",
        help="which questions (default: open)",
    )
    status.add_argument(
        "--all",
        dest="status",
        action="store_const",
        const="all",
        help="open and resolved questions",
    )
    p.add_argument("--topic", help="ID topic or page folder (cnn, resnet, ...)")
    p.add_argument("--page", help="docs-relative page (cnn/pooling.md)")
    p.add_argument("--answers", action="store_true", help="print the answers too")
    _json(p)


def _ask(p: argparse.ArgumentParser) -> None:
    _docs(p)
    p.add_argument("page", help="docs-relative page (cnn/pooling.md) or its path")
    p.add_argument("text", help="the question")
    p.add_argument(
        "--topic", help="ID topic (default: the page's questions' topic, or its folder)"
    )


def _resolve(p: argparse.ArgumentParser) -> None:
    _docs(p)
    p.add_argument("ref", metavar="ID", help="question ID (Q-cnn-01) or unique text")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--answer", metavar="TEXT", help="the answer (Markdown)")
    group.add_argument(
        "--answer-file", metavar="FILE", help="read the answer from FILE ('-': stdin)"
    )
    group.add_argument(
        "--edit", action="store_true", help="write the answer in $VISUAL/$EDITOR"
    )
    p.add_argument("--date", help="resolved date YYYY-MM-DD (default: today)")
    p.add_argument(
        "--force",
        action="store_true",
        help="resolve an already resolved question again (the old answer is kept "
        "above the new one)",
    )


def _ref(p: argparse.ArgumentParser) -> None:
    _docs(p)
    p.add_argument("ref", metavar="ID", help="question ID (Q-cnn-01) or unique text")


def _resources(p: argparse.ArgumentParser) -> None:
    _docs(p)
    p.add_argument("text", nargs="?", help="only resources whose title contains TEXT")
    p.add_argument(
        "--status", choices=["unread", "read", "digested", "all"], default="all"
    )
    p.add_argument(
        "--section", help="heading the links sit under (资料, 需要消化的, ...)"
    )
    p.add_argument("--topic", help="page folder (cnn, reading, ...)")
    p.add_argument("--page", help="docs-relative page")
    _json(p)


def _mark(p: argparse.ArgumentParser) -> None:
    _docs(p)
    p.add_argument(
        "ref", metavar="ID", help="resource ID (r-…), URL or unique title text"
    )
    p.add_argument("--page", help="look only on this page")


def _plan(p: argparse.ArgumentParser) -> None:
    _docs(p)
    sub = p.add_subparsers(dest="plan_action", metavar="ACTION", parser_class=Parser)
    show = sub.add_parser("show", help="list the chapters (the default)")
    for q in (p, show):
        q.add_argument("--page", help="docs-relative page")
        q.add_argument("--status", choices=["todo", "doing", "done", "all"])
        q.add_argument("--grep", metavar="TEXT", help="chapters containing TEXT")
    _json(p)
    for name, status in (("start", "doing"), ("done", "done"), ("todo", "todo")):
        action = sub.add_parser(name, help=f"mark a chapter {status}")
        action.add_argument("ref", metavar="ID", help="chapter ID (c-…) or unique text")
        action.add_argument("--page", help="look only on this page")


def _review(p: argparse.ArgumentParser) -> None:
    _docs(p)
    p.add_argument("--topic", help="only cards of this topic (cnn, resnet, ...)")
    p.add_argument(
        "--limit", type=int, default=20, metavar="N", help="at most N cards (20)"
    )
    p.add_argument(
        "--new",
        type=int,
        default=10,
        metavar="N",
        help="at most N cards never reviewed before (10)",
    )
    what = p.add_mutually_exclusive_group()
    what.add_argument(
        "--due", action="store_true", help="list the due cards, review nothing"
    )
    what.add_argument(
        "--export",
        nargs=2,
        metavar=("FORMAT", "FILE"),
        help="write the cards to FILE: `--export anki deck.apkg`",
    )


def _progress(p: argparse.ArgumentParser) -> None:
    _docs(p)
    p.add_argument("--width", type=int, default=12, help="bar width (characters)")
    _json(p)


def _check(p: argparse.ArgumentParser) -> None:
    _docs(p)
    p.add_argument("paths", nargs="*", help="pages to check (default: every page)")


def _import(p: argparse.ArgumentParser) -> None:
    _docs(p)
    p.add_argument("files", nargs="+", metavar="FILE", help="raw notes to import")
    p.add_argument(
        "--write", action="store_true", help="write the pages (default: dry run)"
    )
    p.add_argument("--force", action="store_true", help="overwrite an existing page")
    p.add_argument("--to", metavar="PAGE", help="docs-relative page (one FILE only)")
    p.add_argument(
        "--dest",
        metavar="DIR",
        default="inbox",
        help="docs folder for new pages (inbox)",
    )
    p.add_argument("--topic", help="question ID topic (default: the page's folder)")
    p.add_argument(
        "--attachments",
        metavar="DIR",
        help="also copy images from DIR (default: only from the note's own folder)",
    )
    p.add_argument(
        "--keep-html",
        action="store_true",
        help="keep raw HTML and script links as written (default: shown as text)",
    )


def _run(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "page",
        help="the page: docs path (docs/cnn/convolution.md), docs-relative path "
        "(cnn/convolution.md) or its URL (http://127.0.0.1:8000/cnn/convolution/)",
    )
    _docs(p)
    p.add_argument(
        "--list", action="store_true", help="list the page's blocks, run nothing"
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="seconds a block may run before it is interrupted (default 60)",
    )
    p.add_argument(
        "--figures",
        metavar="DIR",
        help="save the figures the blocks draw as PNG files in DIR",
    )


_STUDY = "dlnotes.kb.commands"

COMMANDS: list[Command] = [
    Command(
        "questions",
        "list and filter questions",
        _questions,
        f"{_STUDY}:questions",
        ("q",),
    ),
    Command("ask", "add a question to a page", _ask, f"{_STUDY}:ask", ("add",)),
    Command(
        "resolve",
        "mark a question resolved, with an answer",
        _resolve,
        f"{_STUDY}:resolve",
    ),
    Command("reopen", "mark a question open again", _ref, f"{_STUDY}:reopen"),
    Command(
        "resources",
        "list and filter resources",
        _resources,
        f"{_STUDY}:resources",
        ("res",),
    ),
    Command("read", "mark a resource read", _mark, f"{_STUDY}:read"),
    Command("digest", "mark a resource digested", _mark, f"{_STUDY}:digest"),
    Command("unread", "mark a resource unread", _mark, f"{_STUDY}:unread"),
    Command("plan", "show or update study-plan chapters", _plan, f"{_STUDY}:plan"),
    Command(
        "review",
        "review answered questions (spaced repetition, FSRS)",
        _review,
        f"{_STUDY}:review",
    ),
    Command("progress", "per-topic progress bars", _progress, f"{_STUDY}:progress"),
    Command("check", "lint the notes (file:line: message)", _check, f"{_STUDY}:check"),
    Command("import", "import raw notes as pages", _import, f"{_STUDY}:import_notes"),
    Command(
        "run",
        "run a page's python blocks in a fresh kernel (--list shows them)",
        _run,
        "dlnotes.runner.command:run",
    ),
    # The training engine: torch is imported only when `dlnotes train` runs.
    Command(
        "train",
        "train a model (SGD, checkpoints, --resume, torchrun)",
        _train_arguments,
        "dlnotes.train.command:run",
    ),
]


def build_parser(commands: Sequence[Command] = COMMANDS) -> Parser:
    parser = Parser(
        prog="dlnotes",
        description="深度学习笔记: study tracker for the notes in docs/ "
        "(questions, resources, study plans) and the training engine.",
    )
    parser.add_argument("--version", action="version", version=f"dlnotes {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for cmd in commands:
        p = sub.add_parser(
            cmd.name,
            aliases=list(cmd.aliases),
            help=cmd.help,
            description=cmd.description or cmd.help,
        )
        cmd.configure(p)
        p.set_defaults(_target=cmd.target)
    return parser


def _version() -> str:
    from dlnotes import __version__

    return __version__


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    target = getattr(args, "_target", None)
    if target is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    module, _, func = target.partition(":")
    try:
        run = getattr(importlib.import_module(module), func)
        return int(run(args) or 0)
    except KeyboardInterrupt:
        print("dlnotes: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        if os.environ.get("DLNOTES_DEBUG"):
            raise
        if isinstance(exc, OSError) and exc.filename:
            message = f"{exc.filename}: {exc.strerror or _one_line(exc)}"
        elif getattr(exc, "user_error", False) or isinstance(exc, ValueError | OSError):
            message = _one_line(exc)
        else:
            message = f"{type(exc).__name__}: {_one_line(exc)}"
        print(f"dlnotes: error: {message}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
