"""``dlnotes run PAGE``: run a page's code blocks in a fresh kernel, in the terminal.

The same path as the tests that prove every block of every page runs
(:func:`dlnotes.runner.kernel.run_page`), and the same kernel as the Run buttons under
``mkdocs serve``. Output streams as it comes; a figure is reported with its size (and
saved with ``--figures DIR``). The first block that fails stops the run with exit code
1 and names the block by file and line.
"""

from __future__ import annotations

import argparse
import base64
import sys
import time
from pathlib import Path
from typing import TextIO

from dlnotes.kb.commands import _shown, find_docs_dir
from dlnotes.runner.blocks import Block, page_blocks, resolve_page
from dlnotes.runner.kernel import OK, Event, png_size, run_page

EXIT_FAILED = 1


def _first_line(code: str) -> str:
    line = next((s for s in code.splitlines() if s.strip()), "")
    return line if len(line) <= 60 else line[:57] + "..."


def _label(block: Block, where: str) -> str:
    what = ", ".join(block.sections) if block.sections else "example"
    return f"[{block.index}] {where}:{block.line}  {what}"


class Printer:
    """Writes a block's events to the terminal as they arrive."""

    def __init__(self, out: TextIO, err: TextIO, figures: Path | None, stem: str):
        self.out, self.err = out, err
        self.figures = figures
        self.stem = stem
        self.saved = 0
        self.at_line_start = True

    def _write(self, text: str, stream: TextIO | None = None) -> None:
        if not text:
            return
        (stream or self.out).write(text)
        (stream or self.out).flush()
        self.at_line_start = text.endswith("\n")

    def line(self, text: str) -> None:
        if not self.at_line_start:
            self._write("\n")
        self._write(text + "\n")

    def __call__(self, block: Block, event: Event) -> None:
        kind = event["type"]
        if kind == "stream":
            self._write(event["text"], self.err if event["name"] == "stderr" else None)
        elif kind in ("result", "display"):
            if "png" in event:
                self.line(self._figure(block, event["png"]))
            elif "text" in event:
                prefix = "Out: " if kind == "result" else ""
                self.line(prefix + event["text"])
        elif kind == "error":
            self.line(event["traceback"])
        elif kind == "info":
            self.line(f"[{event['text']}]")

    def _figure(self, block: Block, png: str) -> str:
        size = png_size(png)
        dims = f"{size[0]}x{size[1]} " if size else ""
        if self.figures is None:
            return f"[figure {dims}PNG; --figures DIR saves it]"
        self.saved += 1
        path = self.figures / f"{self.stem}-block{block.index}-{self.saved}.png"
        path.write_bytes(base64.b64decode(png))
        return f"[figure {dims}PNG saved to {path}]"


def run(args: argparse.Namespace) -> int:
    as_file = Path(args.page).expanduser()
    search_from = as_file.resolve().parent if as_file.is_file() else None
    docs = find_docs_dir(args.docs, start=search_from)
    page = resolve_page(args.page, docs)
    blocks = page_blocks(docs, page, docs.parent)
    where = _shown(docs, page)
    if args.list:
        if not blocks.blocks:
            print(f"{where}: no python blocks")
        for b in blocks.blocks:
            print(_label(b, where))
            if b.runnable:
                print(f"      {_first_line(b.code)}")
            else:
                print(f"      not runnable: {b.reason}")
        return 0
    if args.timeout <= 0:
        raise ValueError(f"--timeout must be positive, got {args.timeout}")
    if not blocks.runnable:
        print(f"{where}: no runnable python blocks")
        return 0
    figures = None
    if args.figures:
        figures = Path(args.figures)
        figures.mkdir(parents=True, exist_ok=True)
    printer = Printer(sys.stdout, sys.stderr, figures, Path(page).stem)
    total = len(blocks.runnable)

    def start(block: Block) -> None:
        printer.line(f"── {_label(block, where)}  ({block.index}/{len(blocks.blocks)})")

    started = time.monotonic()
    results = run_page(
        blocks,
        docs.parent,
        timeout=args.timeout,
        on_start=start,
        on_event=printer,
    )
    seconds = time.monotonic() - started
    last = results[-1]
    if last.status != OK:
        b = last.block
        error = last.error
        reason = {
            "timeout": f"ran past the {args.timeout:g} s time limit",
            "interrupted": "was interrupted",
            "died": "killed the kernel",
        }.get(last.status, "failed")
        if error and last.status == "error":
            reason = f"raised {error['ename']}: {error['evalue']}"
        print(
            f"dlnotes run: block {b.index} ({where}:{b.line}) {reason}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    printer.line(f"ok: {total} blocks of {where} ran in {seconds:.1f} s")
    return 0
