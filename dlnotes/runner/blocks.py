"""The runnable code blocks of a page: what ``dlnotes run`` and the Run buttons execute.

A page's fenced ```` ```python ```` blocks come in two kinds:

* **examples** written in the page: they run as shown, in order, in one kernel per
  page (so a later block sees the names an earlier one defined, as in a notebook);
* **embedded sections** of the package (a block whose lines are
  ``--8<-- "dlnotes/numpy/conv.py:im2col"``): the page shows the section's code, which
  refers to names its module imports or defines (``np``, a helper). Such a block can
  run on its own when every name it needs can be imported: :func:`section_setup`
  derives those imports from the module (``import numpy as np``,
  ``from dlnotes.numpy.conv import _pair``) and the runner executes them first, then
  the code as shown. A section cut out of a class body (one method) is shown for
  reading only: it has no Run button.

Line numbers are 1-based lines of the page file (the opening fence), so an error names
``docs/cnn/convolution.md:44``.
"""

from __future__ import annotations

import ast
import builtins
import functools
import html
import os
import re
import symtable
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from dlnotes.kb.errors import StudyError
from dlnotes.kb.grammar import (
    FENCE_LANG_RE,
    SNIPPET_INCLUDE_RE,
    SNIPPET_SECTION_RE,
    classify_lines,
    line_body,
)

RUNNABLE_LANGS = frozenset({"python", "py", "python3"})

#: The fence class of a block the site build does not execute (slow or interactive):
#: ```` ```{.python .no-execute} ````. It keeps its Run button.
NO_EXECUTE = re.compile(r"(?<![\w-])\.no-execute(?![\w-])")


class BlockError(StudyError):
    """A page, block or embedded section that cannot be read (a user error)."""


@dataclass(frozen=True)
class Fence:
    """One fenced code block of a Markdown text (0-based line indexes)."""

    start: int  # the opening fence line
    end: int  # the closing fence line (== len(lines) if never closed)
    indent: str
    lang: str
    body: list[str]  # the lines between the fences, indentation removed
    info: str = ""  # the info string after the backticks: "python", "{.python .x}"


@dataclass(frozen=True)
class Block:
    """One ``python`` block of a page, as a reader sees it."""

    page: str  # docs-relative page: "cnn/convolution.md"
    index: int  # 1-based position among the page's python blocks
    line: int  # 1-based line of the opening fence in the page file
    code: str  # the code shown on the page (embedded sections expanded)
    sections: tuple[str, ...] = ()  # "dlnotes/numpy/conv.py:im2col", ...
    setup: str = ""  # imports run before ``code`` (embedded sections only)
    reason: str = ""  # why it cannot run on its own ("" when it can)
    build: bool = True  # executed when the site is built (fence class .no-execute)

    @property
    def runnable(self) -> bool:
        return not self.reason

    @property
    def kind(self) -> str:
        return "section" if self.sections else "example"

    def location(self, docs_name: str = "docs") -> str:
        return f"{docs_name}/{self.page}:{self.line}"


@dataclass
class PageBlocks:
    """All python blocks of one page (runnable or not), in page order."""

    page: str
    path: Path
    blocks: list[Block] = field(default_factory=list)

    @property
    def runnable(self) -> list[Block]:
        return [b for b in self.blocks if b.runnable]

    def block(self, index: int) -> Block:
        for b in self.blocks:
            if b.index == index:
                return b
        raise BlockError(f"{self.page} has no python block {index}")


def scan_fences(lines: list[str]) -> list[Fence]:
    """Every fenced code block, in order, as the tracker's parser sees the page.

    :func:`dlnotes.kb.notes.classify_lines` decides what is code (a fence inside
    another fence, an HTML comment or front matter is not a block of its own).
    """
    fences: list[Fence] = []
    for cb in classify_lines(lines)[1]:
        if cb.kind != "fence":
            continue
        start = cb.start - 1
        opening = line_body(lines[start])
        indent = opening[: len(opening) - len(opening.lstrip(" \t"))]
        end = cb.end - 1 if cb.closed else len(lines)
        body = []
        for raw in lines[start + 1 : end]:
            text = line_body(raw)
            body.append(
                text[len(indent) :] if text.startswith(indent) else text.lstrip()
            )
        m = FENCE_LANG_RE.match(cb.info)
        lang = m["lang"].lower() if m else ""
        fences.append(Fence(start, end, indent, lang, body, cb.info))
    return fences


def read_section(root: Path, path: str, section: str | None) -> tuple[list[str], bool]:
    """The lines of ``path``'s named section (the whole file without a name).

    Returns the dedented lines and whether the section sat indented in its file (a
    method cut out of a class), like pymdownx.snippets with ``dedent_subsections``.
    """
    file = Path(os.path.normpath(root / path))
    if not file.is_relative_to(os.path.normpath(root)) or not file.is_file():
        raise BlockError(f"embedded file not found: {path}")
    lines = file.read_text(encoding="utf-8").splitlines()
    if section is None:
        return lines, False
    picked: list[str] = []
    inside = False
    found = False
    for line in lines:
        m = SNIPPET_SECTION_RE.match(line)
        if m:
            if m["name"] == section:
                inside = m["kind"] == "start"
                found = found or inside
            continue  # markers of any section never show
        if inside:
            picked.append(line)
    if not found:
        raise BlockError(f"no section {section!r} in {path}")
    text = "\n".join(picked)
    dedented = textwrap.dedent(text)
    return dedented.splitlines(), dedented != text


def page_blocks(docs: Path, page: str, root: Path | None = None) -> PageBlocks:
    """The python blocks of ``docs/page``; ``root`` is where snippet paths start."""
    root = root or docs.parent
    path = Path(os.path.normpath(docs / page))
    if Path(page).is_absolute() or not path.is_relative_to(os.path.normpath(docs)):
        raise BlockError(f"page {page!r} is outside the docs folder")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BlockError(f"page not found: {path}") from None
    result = PageBlocks(page, path)
    if path.suffix == ".py":
        result.blocks = percent_blocks(page, text)
        return result
    index = 0
    for fence in scan_fences(text.splitlines()):
        if fence.lang not in RUNNABLE_LANGS:
            continue
        index += 1
        code_lines: list[str] = []
        sections: list[str] = []
        setups: list[str] = []
        reason = ""
        for line in fence.body:
            m = SNIPPET_INCLUDE_RE.match(line)
            if not m:
                code_lines.append(line)
                continue
            ref = m["path"] + (f":{m['section']}" if m["section"] else "")
            sections.append(ref)
            try:
                lines, nested = read_section(root, m["path"], m["section"])
            except BlockError as exc:
                lines, reason = [], str(exc)
                continue
            code_lines.extend(lines)
            if nested:
                reason = reason or f"{ref} is part of a class: shown for reading"
            elif m["path"].endswith(".py"):
                try:
                    setups.append(section_setup(root, m["path"], "\n".join(lines)))
                except BlockError as exc:
                    reason = reason or str(exc)
        code = "\n".join(code_lines).strip("\n") + "\n"
        if not reason:
            try:
                ast.parse(code)
            except SyntaxError as exc:
                reason = f"not valid Python (line {exc.lineno}: {exc.msg})"
        setup = "\n".join(dict.fromkeys(s for s in setups if s))
        build = not NO_EXECUTE.search(fence.info)
        result.blocks.append(
            Block(
                page,
                index,
                fence.start + 1,
                code,
                tuple(sections),
                setup,
                reason,
                build,
            )
        )
    return result


#: A cell marker of a jupytext "percent" notebook: ``# %%``, ``# %% [markdown]``.
PERCENT_CELL = re.compile(r"^# %%(?P<rest>.*)$")


def percent_blocks(page: str, text: str) -> list[Block]:
    """The code cells of a jupytext percent-format notebook (a lab in ``docs/labs``).

    Each ``# %%`` cell is one block; its line is the marker's. Markdown and raw cells
    (``# %% [markdown]``) and the YAML header are not code.
    """
    blocks: list[Block] = []
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if PERCENT_CELL.match(line)]
    for n, start in enumerate(starts):
        rest = PERCENT_CELL.match(lines[start])["rest"]  # type: ignore[index]
        if "[" in rest and "[python]" not in rest.replace(" ", ""):
            continue  # [markdown], [raw]
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        code = "\n".join(lines[start + 1 : end]).strip("\n") + "\n"
        if not code.strip():
            continue
        reason = ""
        try:
            ast.parse(code)
        except SyntaxError as exc:
            reason = f"not valid Python (line {exc.lineno}: {exc.msg})"
        build = "no-execute" not in rest
        blocks.append(
            Block(page, len(blocks) + 1, start + 1, code, reason=reason, build=build)
        )
    return blocks


# --------------------------------------------------------------------------- setup


def module_name(path: str) -> str:
    """``dlnotes/numpy/conv.py`` -> ``dlnotes.numpy.conv``."""
    parts = list(Path(path).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _module_bindings(tree: ast.Module, module: str) -> tuple[dict[str, str], bool]:
    """Name -> the statement that binds it at run time, for a module's top level.

    Imports are reproduced as written (relative ones made absolute); names the module
    defines are imported from it. Imports under ``if TYPE_CHECKING:`` do not run and
    bind nothing. Also says whether the module uses postponed annotations.
    """
    package = module.rpartition(".")[0]
    bindings: dict[str, str] = {}
    future = False

    def absolute(node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        base = package
        for _ in range(node.level - 1):
            base = base.rpartition(".")[0]
        return f"{base}.{node.module}" if node.module else base

    def visit(body: list[ast.stmt]) -> None:
        nonlocal future
        for node in body:
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.asname:
                        bindings[a.asname] = f"import {a.name} as {a.asname}"
                    else:
                        top = a.name.partition(".")[0]
                        bindings[top] = f"import {a.name}"
            elif isinstance(node, ast.ImportFrom):
                source = absolute(node)
                if source == "__future__":
                    future = future or any(a.name == "annotations" for a in node.names)
                    continue
                for a in node.names:
                    if a.name == "*":
                        continue
                    alias = f" as {a.asname}" if a.asname else ""
                    bindings[a.asname or a.name] = (
                        f"from {source} import {a.name}{alias}"
                    )
            elif isinstance(
                node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
            ):
                bindings[node.name] = f"from {module} import {node.name}"
            elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
                targets = (
                    node.targets if isinstance(node, ast.Assign) else [node.target]
                )
                for t in targets:
                    for n in ast.walk(t):
                        if isinstance(n, ast.Name):
                            bindings[n.id] = f"from {module} import {n.id}"
            elif isinstance(node, ast.If) and not _is_type_checking(node.test):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)

    visit(tree.body)
    return bindings, future


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def free_names(code: str, *, skip_annotations: bool = False) -> set[str]:
    """Global names ``code`` reads but does not bind itself (builtins excluded).

    With ``skip_annotations`` (postponed annotations), names used only inside
    annotations are not needed at run time.
    """
    table = symtable.symtable(code, "<block>", "exec")
    bound = {
        s.get_name()
        for s in table.get_symbols()
        if s.is_assigned() or s.is_imported() or s.is_namespace()
    }
    needed: set[str] = set()

    def walk(t: symtable.SymbolTable) -> None:
        for s in t.get_symbols():
            name = s.get_name()
            if t.get_type() == "module":
                if s.is_referenced() and name not in bound:
                    needed.add(name)
            elif s.is_global() and s.is_referenced() and name not in bound:
                needed.add(name)
        for child in t.get_children():
            walk(child)

    walk(table)
    if skip_annotations:
        needed -= _annotation_only_names(code)
    return {n for n in needed if not hasattr(builtins, n) and n != "__class__"}


def _annotation_only_names(code: str) -> set[str]:
    tree = ast.parse(code)
    in_annotations: set[str] = set()
    ann_nodes: set[int] = set()
    for node in ast.walk(tree):
        anns: list[ast.expr | None] = []
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            args = node.args
            every = [*args.posonlyargs, *args.args, *args.kwonlyargs]
            every += [a for a in (args.vararg, args.kwarg) if a is not None]
            anns = [a.annotation for a in every] + [node.returns]
        elif isinstance(node, ast.AnnAssign):
            anns = [node.annotation]
        for ann in anns:
            if ann is None:
                continue
            for sub in ast.walk(ann):
                ann_nodes.add(id(sub))
                if isinstance(sub, ast.Name):
                    in_annotations.add(sub.id)
    elsewhere = {
        n.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Name) and id(n) not in ann_nodes
    }
    return in_annotations - elsewhere


@functools.lru_cache(maxsize=256)
def _module_info(
    file: str, module: str, stamp: tuple[int, int]
) -> tuple[dict[str, str], bool]:
    """A module's run-time bindings, parsed once per version of the file (``stamp``:
    mtime and size), since a page embeds several sections of one module and every
    build and Run request asks again. Callers must not change the dict."""
    tree = ast.parse(Path(file).read_text(encoding="utf-8"))
    return _module_bindings(tree, module)


def section_setup(root: Path, path: str, code: str) -> str:
    """The imports that let an embedded section of ``path`` run on its own."""
    file = root / path
    stat = file.stat()
    try:
        bindings, future = _module_info(
            str(file), module_name(path), (stat.st_mtime_ns, stat.st_size)
        )
        needed = free_names(code, skip_annotations=future)
    except SyntaxError as exc:
        raise BlockError(f"{path}: not valid Python ({exc.msg})") from None
    missing = sorted(n for n in needed if n not in bindings)
    if missing:
        raise BlockError(
            f"{path}: the section needs {', '.join(missing)}, which the module "
            "does not import or define at run time"
        )
    lines = ["from __future__ import annotations"] if future else []
    lines += sorted({bindings[n] for n in needed}, key=_import_order)
    return "\n".join(lines)


def _import_order(line: str) -> tuple[int, str]:
    return (0 if line.startswith("import ") else 1, line)


# --------------------------------------------------------------------------- pages


def resolve_page(ref: str, docs: Path) -> str:
    """A page given as a docs path, a file path or a served URL -> docs-relative.

    ``docs/cnn/convolution.md``, ``cnn/convolution.md``, ``cnn/convolution/``,
    ``http://127.0.0.1:8000/cnn/convolution/`` and ``/cnn/convolution/#im2col`` all
    name ``cnn/convolution.md``; ``/`` is ``index.md``.
    """
    if not ref.strip():
        raise BlockError("no page given")
    docs = docs.resolve()
    as_file = Path(ref).expanduser()
    if as_file.suffix in (".md", ".py") and as_file.is_file():
        full = as_file.resolve()
        if not full.is_relative_to(docs):
            raise BlockError(f"{ref} is not inside the docs folder {docs}")
        return full.relative_to(docs).as_posix()
    parts = urlsplit(ref)
    url_path = unquote(parts.path if (parts.scheme or parts.netloc) else ref)
    url_path = url_path.split("#")[0].split("?")[0].strip("/")
    if url_path.startswith(docs.name + "/"):
        url_path = url_path[len(docs.name) + 1 :]
    candidates: list[str] = []
    if url_path.endswith((".md", ".py")):
        candidates.append(url_path)
    elif url_path.endswith(".html"):
        candidates.append(url_path.removesuffix(".html") + ".md")
    elif url_path:
        candidates += [
            f"{url_path}.md",
            f"{url_path}/index.md",
            f"{url_path}/README.md",
            f"{url_path}.py",  # a jupytext lab: labs/degradation.py
        ]
    else:
        candidates.append("index.md")
    for cand in candidates:
        full = (docs / cand).resolve()
        if full.is_relative_to(docs) and full.is_file():
            return full.relative_to(docs).as_posix()
    raise BlockError(f"no page {ref!r} in {docs} (tried {', '.join(candidates)})")


def mark_runnable(markdown: str, blocks: PageBlocks) -> str:
    """Put a ``<span class="dl-run">`` marker after each runnable block of a page.

    ``markdown`` is the page's text as MkDocs hands it to plugins (the tracker may
    have rendered items, never code); its python fences are matched to ``blocks`` by
    order. The marker is an inline span in its own paragraph, indented like the
    fence, so it stays inside admonitions, tabs and lists. The page script turns it
    into the block's Run toolbar; the static site styles it as a hint.
    """
    lines = markdown.splitlines(keepends=True)
    fences = [f for f in scan_fences(lines) if f.lang in RUNNABLE_LANGS]
    if len(fences) != len(blocks.blocks):
        return markdown  # the text changed under us: no markers rather than wrong ones
    after: dict[int, str] = {}
    for fence, block in zip(fences, blocks.blocks, strict=True):
        if block.runnable and fence.end < len(lines):
            after[fence.end] = (
                f'\n{fence.indent}<span class="dl-run" data-dl-block="{block.index}" '
                f'data-dl-page="{html.escape(blocks.page)}"></span>\n\n'
            )
    if not after:
        return markdown
    out: list[str] = []
    for i, line in enumerate(lines):
        out.append(line)
        if i in after:
            if not line.endswith("\n"):
                out.append("\n")
            out.append(after[i])
    return "".join(out)
