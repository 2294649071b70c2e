"""What the search index sees of a page: prose only (no math, no notebook code)."""

from __future__ import annotations

import re

_MATH = re.compile(
    r'<span class="arithmatex">[^<]*</span>|<div class="arithmatex">[^<]*</div>'
)
_NB_PARTS = re.compile(r'<div class="jp-Cell-(?:inputWrapper|outputWrapper)"[^>]*>')
_DIV = re.compile(r"<div\b|</div>")


def _element_end(html: str, start: int) -> int:
    """Where the ``<div>`` opening at ``start`` closes (its nested divs counted)."""
    depth = 0
    for tag in _DIV.finditer(html, start):
        depth += -1 if tag.group() == "</div>" else 1
        if depth == 0:
            return tag.end()
    return len(html)


def search_view(html: str, *, notebook: bool = False) -> str:
    """The page as the search index should see it: prose, no code dumps, no TeX.

    Math (``arithmatex`` elements) would show as raw TeX in a preview; on a lab
    notebook the code cells and their outputs are code, not prose, so only its
    Markdown cells are indexed. (Material's ``data-search-exclude`` cannot do this:
    its indexer compares elements by tag name, so an excluded ``<div>`` ends at the
    first nested ``</div>``.)
    """
    html = _MATH.sub(" ", html)
    if notebook:
        parts: list[str] = []
        at = 0
        for m in _NB_PARTS.finditer(html):
            if m.start() < at:
                continue
            cell_input = 'jp-Cell-inputWrapper"' in m.group()
            end = _element_end(html, m.start())
            if cell_input and "highlight-ipynb" not in html[m.start() : end]:
                continue  # a Markdown cell: prose
            parts.append(html[at : m.start()])
            at = end
        parts.append(html[at:])
        html = "".join(parts)
    return html
