"""What a note may contain: every page's HTML goes through an allow-list sanitiser.

The way forges render a README: the HTML that Markdown, the extensions and the other
plugins made of a note passes through `nh3 <https://nh3.readthedocs.io>`_ (the Python
bindings of the Rust crate Ammonia) with an allow-list that keeps what the site
renders and nothing else:

* text structure, tables (with ``text-align`` only in ``style``), task lists,
  footnotes, abbreviations, figures and images, ``<details>``;
* math (arithmatex spans with ``\\(...\\)`` for MathJax), Mermaid (``<pre
  class="mermaid">``), code highlighting (spans with classes, line anchors),
  pymdownx tabs (radio inputs and labels), admonitions, heading anchors and
  permalinks;
* the tracker's own markup (``data-dl-*`` attributes of :mod:`dlnotes.kb.render`)
  and the Run markers (:mod:`dlnotes.runner.blocks`).

Scripts (with their content), ``<style>``, ``<iframe>``, ``<object>``, forms, event
handlers (``on*=``), ``javascript:`` and other schemes than ``http(s)``/``mailto``
(``data:`` only for images), and any CSS property except ``text-align`` are removed.

Pages that mkdocs-jupyter renders from a notebook (``docs/labs/*.py``) go through
:func:`sanitize_notebook`: the template's own head (its inlined copy-button script and
the notebook CSS, written before any cell) is kept, and everything from the
``jupyter-wrapper`` on, where cells and their outputs are, is sanitised with the
allow-list plus the notebook markup (``data-jp-*``/``data-mime-type`` attributes, the
copy buttons and their SVG icons).

:func:`removed` lists what sanitising dropped from a page (tag or attribute names),
so the plugin can say so in the build log.
"""

from __future__ import annotations

import re
from collections import Counter

import nh3

TAGS = frozenset(nh3.ALLOWED_TAGS) | {
    "input",  # task-list checkboxes, pymdownx tab radios (attributes checked below)
    "label",
    "section",
    "tfoot",
    "main",
    "progress",  # the progress page's bars
}

_GLOBAL = {"id", "class", "title", "lang", "dir", "role", "tabindex", "hidden"}
_GLOBAL |= {"style"}  # only text-align survives in it (STYLE_PROPERTIES)
# Material: data-search-exclude keeps the tracker's controls out of the search index
_GLOBAL |= {"data-search-exclude"}
ATTRIBUTES: dict[str, set[str]] = {
    "*": _GLOBAL | {"aria-hidden", "aria-label", "aria-labelledby", "aria-describedby"},
    "a": {"href", "hreflang", "name", "rel", "target", "download"},
    "img": {"src", "alt", "width", "height", "align", "loading", "decoding"},
    "input": {"type", "checked", "disabled", "name"},
    "label": {"for"},
    "div": {"data-tabs"},  # pymdownx.tabbed
    "ol": {"start", "reversed", "type"},
    "li": {"value"},
    "td": {"colspan", "rowspan", "align", "headers"},
    "th": {"colspan", "rowspan", "align", "headers", "scope"},
    "col": {"span", "width"},
    "colgroup": {"span"},
    "details": {"open"},
    "time": {"datetime"},
    "data": {"value"},
    "abbr": {"title"},
    "q": {"cite"},
    "blockquote": {"cite"},
    "ins": {"cite", "datetime"},
    "del": {"cite", "datetime"},
    "bdo": {"dir"},
    "table": {"align"},
    "hr": {"width", "align", "size"},
    "progress": {"max", "value"},
}

#: Attribute prefixes kept on every tag: the tracker's and the runner's data.
ATTRIBUTE_PREFIXES = {"data-dl-", "data-md-"}

#: URL schemes a link or image may use; ``data:`` only for images (see below).
URL_SCHEMES = {"http", "https", "mailto", "data"}
#: ``<input>`` types the site renders (task lists, content tabs).
INPUT_TYPES = {"checkbox", "radio"}
#: CSS properties kept in a ``style`` attribute (table column alignment).
STYLE_PROPERTIES = {"text-align"}
DATA_IMAGES = (
    "data:image/png;",
    "data:image/jpeg;",
    "data:image/gif;",
    "data:image/webp;",
)


def _attribute_filter(tag: str, name: str, value: str) -> str | None:
    if name in ("href", "src"):
        lowered = value.strip().lower()
        if lowered.startswith("data:"):
            # images may inline a raster picture; a data: link or SVG may carry script
            return value if tag == "img" and lowered.startswith(DATA_IMAGES) else None
    if tag == "input" and name == "type" and value.lower() not in INPUT_TYPES:
        return None
    if tag == "a" and name == "target" and value != "_blank":
        return None
    return value


#: What a notebook's cells add (nbconvert's lab template, mkdocs-jupyter's copy button).
NOTEBOOK_TAGS = {"clipboard-copy", "svg", "path"}
NOTEBOOK_ATTRIBUTES: dict[str, set[str]] = {
    "clipboard-copy": {"for", "aria-label"},
    "svg": {"width", "height", "viewBox", "version", "data-view-component"},
    "path": {"d", "fill", "fill-rule"},
    "div": {"data-mime-type", "data-type"},
}
NOTEBOOK_PREFIXES = {"data-jp-"}
#: Where mkdocs-jupyter's template ends its head and the cells begin.
NOTEBOOK_BODY = re.compile(r'<div class="jupyter-wrapper">')


def sanitize(html: str, *, notebook: bool = False) -> str:
    """``html`` with everything outside the allow-list removed (see the module doc).

    ``notebook`` adds the markup of notebook cells to the allow-list.
    """
    tags, attributes = set(TAGS), {k: set(v) for k, v in ATTRIBUTES.items()}
    prefixes = set(ATTRIBUTE_PREFIXES)
    if notebook:
        tags |= NOTEBOOK_TAGS
        for tag, names in NOTEBOOK_ATTRIBUTES.items():
            attributes.setdefault(tag, set()).update(names)
        prefixes |= NOTEBOOK_PREFIXES
    return nh3.clean(
        html,
        tags=tags,
        clean_content_tags={"script", "style"},
        attributes=attributes,
        attribute_filter=_attribute_filter,
        generic_attribute_prefixes=prefixes,
        url_schemes=set(URL_SCHEMES),
        filter_style_properties=set(STYLE_PROPERTIES),
        strip_comments=True,
        link_rel=None,
    )


def split_notebook(html: str) -> tuple[str, str]:
    """``(template head, cells)`` of a page mkdocs-jupyter rendered from a notebook."""
    m = NOTEBOOK_BODY.search(html)
    return (html[: m.start()], html[m.start() :]) if m else ("", html)


def sanitize_notebook(html: str) -> str:
    """A notebook page: the template's head as it is, the cells sanitised."""
    head, cells = split_notebook(html)
    return head + sanitize(cells, notebook=True)


_NAME = re.compile(r"[a-z][a-z0-9_:-]*\Z")
# What the inventory reads: a start tag with its attributes (quoted values may hold
# ">"), after comments and the content of raw-text elements are blanked out.
_RAW = re.compile(r"<!--.*?-->|(<(script|style)\b[^>]*>).*?</\2\s*>", re.S | re.I)
_START = re.compile(r"""<([a-zA-Z][a-zA-Z0-9:-]*)((?:[^>"']|"[^"]*"|'[^']*')*)>""")
_ATTR = re.compile(
    r"""([^\s"'=<>/`]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?"""
)


def _inventory(html: str) -> Counter[str]:
    """How often each tag, ``tag attribute`` and ``tag style:property`` occurs.

    A regular-expression reading, not a full HTML parse: it only has to notice what
    the sanitiser took away, and it is several times faster than ``html.parser``.
    """
    seen: Counter[str] = Counter()
    html = _RAW.sub(lambda m: m.group(1) or "", html)
    for m in _START.finditer(html):
        tag = m.group(1).lower()
        seen[f"<{tag}>"] += 1
        for a in _ATTR.finditer(m.group(2)):
            name = a.group(1).lower()
            if not _NAME.match(name):
                continue  # not an attribute a browser would use (a stray comma...)
            seen[f"<{tag} {name}>"] += 1
            if name == "style":
                value = a.group(2) or a.group(3) or a.group(4) or ""
                for part in value.split(";"):
                    prop = part.split(":", 1)[0].strip().lower()
                    if prop:
                        seen[f"<{tag} style:{prop}>"] += 1
    return seen


def removed(before: str, after: str) -> list[str]:
    """What sanitising ``before`` into ``after`` dropped: tags and attributes, sorted.

    Comments are not counted (Markdown leaves some; they are never shown).
    """
    lost = _inventory(before) - _inventory(after)
    return sorted(lost)
