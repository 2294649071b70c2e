"""A page as a Jupyter notebook: the ``.ipynb`` a reader downloads from the site.

A concept page becomes Markdown cells (the prose, headings, math, tables, other code
listings) and one code cell per ``python`` block, in page order. An embedded section
of the package (``--8<-- "dlnotes/numpy/conv.py:im2col"``) becomes its code with the
imports it needs in front (:attr:`dlnotes.runner.blocks.Block.setup`), so the notebook
runs with the package installed and nothing else. A block that cannot run on its own
(a method cut out of a class) stays a listing in a Markdown cell; a ``.no-execute``
block is a code cell tagged ``skip-execution`` (nbclient and papermill skip it).

A lab (a jupytext ``.py`` notebook under ``docs/labs``) is read with jupytext.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from dlnotes.kb.grammar import SNIPPET_INCLUDE_RE
from dlnotes.runner.blocks import (
    RUNNABLE_LANGS,
    BlockError,
    PageBlocks,
    page_blocks,
    read_section,
    scan_fences,
)

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
_OBSIDIAN_COMMENT = re.compile(r"%%.*?%%", re.S)


def _markdown(lines: list[str]) -> str:
    text = "".join(lines)
    text = _HTML_COMMENT.sub("", text)
    text = _OBSIDIAN_COMMENT.sub("", text)  # hidden notes stay hidden
    return text.strip("\n")


def _expand_snippets(lines: list[str], root: Path) -> list[str]:
    """Non-python listings that embed files show the embedded text."""
    out: list[str] = []
    for line in lines:
        m = SNIPPET_INCLUDE_RE.match(line.rstrip("\r\n"))
        if m is None:
            out.append(line)
            continue
        try:
            section, _ = read_section(root, m["path"], m["section"])
        except BlockError:
            out.append(line)
            continue
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        out.extend(f"{indent}{s}\n" for s in section)
    return out


def page_notebook(
    docs: Path, page: str, root: Path | None = None, blocks: PageBlocks | None = None
) -> Any:
    """The notebook of ``docs/page`` (a ``.md`` page or a jupytext lab).

    ``blocks`` are the page's blocks when the caller has read them already.
    """
    root = root or docs.parent
    if page.endswith((".py", ".ipynb")):
        return lab_notebook(docs / page)
    blocks = blocks or page_blocks(docs, page, root)
    text = blocks.path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    fences = [
        f
        for f in scan_fences([line.rstrip("\r\n") for line in lines])
        if f.lang in RUNNABLE_LANGS
    ]
    if len(fences) != len(blocks.blocks):
        raise BlockError(f"{page}: python blocks changed while reading")
    cells: list[Any] = []
    pending: list[str] = []
    at = 0

    def flush() -> None:
        md = _markdown(_expand_snippets(pending, root))
        if md.strip():
            cells.append(new_markdown_cell(md))
        pending.clear()

    for fence, block in zip(fences, blocks.blocks, strict=True):
        pending.extend(lines[at : fence.start])
        at = min(fence.end + 1, len(lines))
        if not block.runnable:
            pending.append(f"```python\n{block.code}```\n")
            continue
        flush()
        source = block.code.rstrip("\n")
        if block.setup:
            source = f"{block.setup}\n\n{source}"
        cell = new_code_cell(source)
        # where the cell comes from: errors name the page line, tests the kind
        cell.metadata["dlnotes"] = {
            "page": page,
            "line": block.line,
            "kind": block.kind,
        }
        if not block.build:
            cell.metadata["tags"] = ["skip-execution"]
        cells.append(cell)
    pending.extend(lines[at:])
    flush()
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def lab_notebook(path: Path) -> Any:
    """A jupytext ``.py`` lab (or an ``.ipynb``) as a notebook without outputs."""
    if path.suffix == ".ipynb":
        nb = nbformat.read(path, as_version=4)
    else:
        import jupytext

        nb = jupytext.read(path)
    nb.metadata.pop("jupytext", None)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def notebook_json(nb: Any) -> str:
    """The ``.ipynb`` text of ``nb``: cell ids numbered in order (the same text for
    the same page), keys sorted, one-space indent, as Jupyter writes it."""
    for i, cell in enumerate(nb.cells, 1):
        cell["id"] = f"cell-{i}"
    return json.dumps(nb, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
