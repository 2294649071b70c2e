"""Material's search index and tag index under ``mkdocs serve --dirty``.

Both plugins collect their entries while pages are rendered, so a dirty rebuild
sees only the pages it rebuilt. These merges keep every page in both indexes: a
page not rebuilt keeps the entries it had. Used by the ``dlnotes`` plugin's serve
loop (:mod:`dlnotes.site.live`).
"""

from __future__ import annotations

from typing import Any

from mkdocs.structure.files import File, Files


def _page_url(file: File) -> str:
    """The URL a page has in Material's indexes (MkDocs' ``Page.url``: the home
    page's is ``""``, its file's ``"./"``)."""
    return "" if file.url in (".", "./") else file.url


def merge_search_index(config: Any, files: Files, built: set[str]) -> None:
    """Material's search index after a dirty build: old entries of the pages not
    rebuilt, plus this build's entries.

    Material assumes a dirty rebuild builds one page: it drops the old entries of
    the *first* rebuilt page only (by URL prefix, so the home page's empty URL
    dropped every page's entries) and keeps the others twice. Call before the
    search plugin's ``on_post_build``.
    """
    search = config.plugins.get("material/search") or config.plugins.get("search")
    prev = getattr(search, "search_index_prev", None)
    index = getattr(search, "search_index", None)
    if prev is None or index is None:
        return
    pages = files.documentation_pages()
    urls = {_page_url(f) for f in pages}
    rebuilt = {_page_url(f) for f in pages if f.src_uri in built}

    def page_url(entry: dict[str, Any]) -> str:
        return str(entry.get("location", "")).split("#", 1)[0]

    kept = [
        e for e in prev.entries if page_url(e) in urls and page_url(e) not in rebuilt
    ]
    index.entries = kept + index.entries
    search.search_index_prev = None  # so Material writes index.entries as they are


def _tags_data(config: Any) -> dict[str, Any] | None:
    tags = config.plugins.get("material/tags") or config.plugins.get("tags")
    data = getattr(getattr(tags, "mappings", None), "data", None)
    return data if isinstance(data, dict) else None


def merge_tag_mappings(config: Any, files: Files, previous: dict[str, Any]) -> None:
    """Material's tag index after a dirty build: every page's tags, not only the
    tags of the pages this build rebuilt.

    Material collects tags while it renders pages; a dirty build that rebuilds the
    tag index with a few other pages would list only theirs. Pages not rebuilt
    keep the tags they had (call before the tags plugin's ``on_env``).
    """
    data = _tags_data(config)
    if data is None or not previous:
        return
    pages = files.documentation_pages()
    exists = {_page_url(f) for f in pages}
    rebuilt = {_page_url(f) for f in pages if f.is_modified()}
    for url, mapping in previous.items():
        if url in exists and url not in rebuilt and url not in data:
            data[url] = mapping


def tag_mappings(config: Any) -> dict[str, Any]:
    """This build's tags per page URL (for :func:`merge_tag_mappings` next time)."""
    return dict(_tags_data(config) or {})
