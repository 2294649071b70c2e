"""``dlnotes import``: turn a raw note into a page of the knowledge base.

Raw notes are written the way the seeds are: Obsidian ``![[...]]`` embeds and
``#tags``, ``- [ ]`` items, 疑问/资料 headings, links copied from CSDN or zhihu with
tracking parameters, 2-space list nesting, CRLF, other encodings, or Markdown that
lost its line breaks (every heading and bullet run together on one line).

The normalised page has

* clean links (:func:`dlnotes.kb.links.clean_url` / ``clean_title``) and bare URLs
  turned into ``<autolinks>``;
* questions in the tracker's form with IDs: list items under a 疑问/问题 heading, list
  items and one-line paragraphs that end with ``？``/``?``, ``- [ ]`` items that are
  not links, and headings that ask a question (the heading's section becomes the
  indented block below the question);
* every list item that starts with a link as a resource ``- [ ] [title](url)``;
* lists re-indented to 4 spaces per level (as MkDocs renders them), ``*``/``+``
  bullets as ``-``, headings and paragraphs at the left margin, ``#tags`` as
  `` `#tag` ``, anchor links pointing at the heading ids MkDocs gives;
* images that do not exist replaced by an HTML comment (the strict build would fail
  on them), local images that exist copied to ``assets/imported/<page>/``.

What it changed and what it could not place is reported. The result is a fixpoint:
importing an imported page gives it back unchanged, and questions keep their IDs.

The package, by step: :mod:`.source` (bytes to text), :mod:`.linebreaks` (notes that
lost their line breaks), :mod:`.structure` (lists, headings, questions), :mod:`.inline`
(links, images, embeds, raw HTML), :mod:`.note` (:func:`import_text`, re-imports) and
:mod:`.command` (:func:`run_import`: files in, pages out).
"""

from __future__ import annotations

from dlnotes.kb.importer.command import run_import
from dlnotes.kb.importer.linebreaks import recover_line_breaks
from dlnotes.kb.importer.note import ImportResult, import_text
from dlnotes.kb.importer.source import ImportFailure, decode_note, read_source

__all__ = [
    "ImportFailure",
    "ImportResult",
    "decode_note",
    "import_text",
    "read_source",
    "recover_line_breaks",
    "run_import",
]
