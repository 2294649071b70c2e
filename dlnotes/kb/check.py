"""``dlnotes check``: lint the notes, one ``file:line: message`` per problem.

Checks:

* question IDs: malformed (``#Q-CNN-1``, no checkbox, ID not at the end, ``[/]``,
  ordered-list questions), duplicates site-wide, a resolved question without its
  ``✅`` date or an open one with a date;
* links that still carry tracking parameters
  (:func:`dlnotes.kb.links.tracking_params`);
* images that do not exist; figures that ``dlnotes.viz`` draws at build time
  (``assets/figures/<name>.png``) count as present when a ``@figure("<name>")`` is
  registered;
* the Obsidian forms, by the site's own rules (:mod:`dlnotes.kb.obsidian_render`):
  wikilinks and embeds that do not resolve, embeds of themselves, an unclosed
  ``![[`` or ``%%``, questions written inside a quote or callout (not tracked), and
  wikilinks that only the site resolves (by a page title: Obsidian would not);
* questions that are not tracked because they sit inside a code block: an unclosed
  fence, a fence without a language, or an indented code block (a fence with a
  language, e.g. ```` ```markdown ````, is a deliberate example and is not reported);
* raw HTML that would run script in the reader's browser: ``<script>``, ``on*=``
  event handlers, ``javascript:`` URLs (:func:`active_content`);
* temporary files left by an interrupted edit.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from dlnotes.fileio import TEMP_NAME_RE
from dlnotes.kb.grammar import (
    ANY_AUTOLINK_RE,
    AUTOLINK_RE,
    BARE_URL_RE,
    CODE,
    CODE_SPAN_RE,
    COMMENT_MARK,
    EMBED_RE,
    EVENT_HANDLER_RE,
    FIGURE_ASSET_RE,
    FIGURE_RE,
    LINK_DEFINITION_RE,
    LINK_RE,
    LOOSE_ID_RE,
    QUESTION_ID_RE,
    QUESTION_RE,
    QUOTE_RE,
    RAW_TAG_RE,
    SCRIPT_TAGS,
    TASK_RE,
    TEXT,
    URL_ATTR_RE,
    is_script_url,
    is_url,
    line_body,
)
from dlnotes.kb.links import clean_url, tracking_params
from dlnotes.kb.notes import KnowledgeBase, ParsedPage, read_note
from dlnotes.kb.obsidian import find_links, scan
from dlnotes.kb.obsidian_render import Options, render
from dlnotes.kb.wikilinks import LinkError, Vault


@dataclass(frozen=True, order=True)
class Problem:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


def registered_figures() -> set[str]:
    """Names passed to ``@figure(...)`` in ``dlnotes/viz`` (read, never imported)."""
    viz = Path(__file__).resolve().parents[1] / "viz"
    names: set[str] = set()
    for path in viz.rglob("*.py") if viz.is_dir() else ():
        names.update(FIGURE_RE.findall(path.read_text(encoding="utf-8")))
    return names


def _strip_inline_code(body: str) -> str:
    return CODE_SPAN_RE.sub("", body)


def _strip_link_texts(body: str) -> str:
    """Drop ``[text](url)`` links: ``[#Q-rnn-05](#q-rnn-05)`` refers to a question."""
    return LINK_RE.sub("", body)


def _malformed_reason(body: str) -> str:
    m = TASK_RE.match(body)
    if m is None:
        return "question without a checkbox: write `- [ ] text #Q-topic-nn`"
    if m["bullet"] not in "-*+":
        return "a question must be a bullet item (`- [ ]`), not a numbered one"
    ids = LOOSE_ID_RE.findall(m["rest"])
    if ids and not QUESTION_ID_RE.fullmatch(ids[-1][1:]):
        return (
            f"malformed question ID {ids[-1]}: use #Q-<topic>-<nn> "
            "(lower-case topic, at least two digits)"
        )
    return "the question ID must end the line (only `✅ YYYY-MM-DD` may follow it)"


def _image_exists(docs_dir: Path, page: str, target: str, figures: set[str]) -> bool:
    target = unquote(target.strip("<>").split("#", 1)[0].split("?", 1)[0])
    if not target:
        return True
    base = docs_dir if target.startswith("/") else (docs_dir / page).parent
    path = (base / target.lstrip("/")).resolve()
    if path.is_file():
        return True
    try:
        rel = path.relative_to(docs_dir.resolve()).as_posix()
    except ValueError:
        return False
    m = FIGURE_ASSET_RE.fullmatch(rel)
    return bool(m and m[1] in figures)


def check_page(
    parsed: ParsedPage, docs_dir: Path, display: str, figures: set[str]
) -> list[Problem]:
    problems: list[Problem] = []

    def add(line: int, message: str) -> None:
        problems.append(Problem(display, line, message))

    questions = {q.line: q for q in parsed.questions}
    for i, (line, kind) in enumerate(zip(parsed.lines, parsed.kinds, strict=True)):
        n = i + 1
        if kind != TEXT:
            continue
        body = line_body(line)
        visible = _strip_inline_code(body)
        q = questions.get(n)
        if q is not None:
            if q.mark == "/":
                add(n, f"{q.id}: a question is open `[ ]` or resolved `[x]`, not `[/]`")
            elif q.status == "resolved" and not q.resolved:
                add(n, f"{q.id}: resolved question without its `✅ YYYY-MM-DD` date")
            elif q.status == "open" and q.resolved:
                add(n, f"{q.id}: open question carries a resolved date")
        elif "#Q-" in _strip_link_texts(visible):
            quoted = QUOTE_RE.match(body)
            t = TASK_RE.match(quoted["rest"]) if quoted else None
            if t is not None and QUESTION_RE.match(t["rest"]):
                add(
                    n,
                    "question inside a quote or callout is not tracked: "
                    "move it out of the `>` block",
                )
            else:
                add(n, _malformed_reason(body))
        if "http" in visible:
            urls = [m["url"].strip("<>") for m in LINK_RE.finditer(visible)]
            urls += [m["url"] for m in AUTOLINK_RE.finditer(visible)]
            urls += [u.rstrip(".,;:!?)") for u in BARE_URL_RE.findall(visible)]
            for url in dict.fromkeys(urls):
                found = tracking_params(url)
                if found:
                    add(
                        n,
                        f"link with tracking parameters ({', '.join(found)}): "
                        f"use {clean_url(url)}",
                    )
        if "![" in visible:
            for m in EMBED_RE.finditer(visible):
                if not m.group(0).endswith("]]"):
                    add(n, f"Obsidian embed {m.group(0)} is not closed with `]]`")
            for m in LINK_RE.finditer(visible):
                target = m["url"].strip("<>")
                if (
                    m["image"]
                    and not is_url(target)
                    and not _image_exists(docs_dir, parsed.page, m["url"], figures)
                ):
                    add(n, f"missing image {m['url']}")
    for n, message in active_content(parsed):
        add(n, message)
    for block in parsed.code_blocks:
        if block.kind == "fence" and not block.closed:
            add(block.start, "code fence is never closed: the rest of the page is code")
        deliberate = block.kind == "fence" and block.info and block.closed
        if deliberate:
            continue
        where = (
            "an unclosed fence"
            if block.kind == "fence" and not block.closed
            else f"{block.kind} code"
        )
        for k in range(block.start, block.end + 1):
            body = line_body(parsed.lines[k - 1])
            t = TASK_RE.match(body)
            if parsed.kinds[k - 1] == CODE and t and QUESTION_RE.match(t["rest"]):
                add(k, f"question inside a code block is not tracked ({where})")
    return problems


def check_obsidian(
    parsed: ParsedPage, vault: Vault, docs_dir: Path, display: str
) -> list[Problem]:
    """What the site cannot render of the Obsidian forms: the same rules, the same
    messages as the ``dlnotes-obsidian`` plugin (unresolved wikilinks and embeds,
    embeds of themselves), and a ``%%`` comment that is never closed."""
    text = "".join(parsed.lines)
    problems: list[Problem] = []
    if "[[" in text:
        result = render(
            text,
            parsed.page,
            vault,
            lambda page: read_note(docs_dir / page),
            Options(tags_page=None),
        )
        problems += [Problem(display, p.line, p.message) for p in result.problems]
        # the site also resolves page titles; Obsidian does not: say how to write it
        for link in find_links(text):
            try:
                vault.resolve_link(link, parsed.page, titles=False)
            except LinkError:
                try:
                    hit = vault.resolve_link(link, parsed.page)
                except LinkError:
                    continue  # reported above
                path = hit.path.removesuffix(".md")
                problems.append(
                    Problem(
                        display,
                        link.line,
                        f"{link.raw} names a page by its title, which Obsidian does "
                        f"not follow: write [[{path}|{link.alias or link.target}]]",
                    )
                )
    if COMMENT_MARK in text:
        unclosed = scan(parsed.lines).unclosed_comment
        if unclosed:
            problems.append(
                Problem(
                    display,
                    unclosed,
                    "Obsidian comment `%%` is never closed: the rest of the page "
                    "is hidden",
                )
            )
    return problems


def check_docs(
    docs_dir: Path, *, pages: set[str] | None = None, relative_to: Path | None = None
) -> list[Problem]:
    """Every problem in the docs folder (or in the given docs-relative ``pages``)."""
    kb = KnowledgeBase.scan(docs_dir)
    figures = registered_figures()
    problems: list[Problem] = []
    vault = Vault.scan(docs_dir)
    # figures drawn at build time are files of the site too
    vault = Vault(
        vault.pages,
        vault.files | {f"assets/figures/{name}.png" for name in figures},
        vault.slugify,
    )

    def display(page: str) -> str:
        path = docs_dir / page
        if relative_to is not None:
            try:
                return path.resolve().relative_to(relative_to.resolve()).as_posix()
            except ValueError:
                pass
        return str(path)

    first: dict[str, tuple[str, int]] = {}
    for parsed in kb.pages:
        for q in parsed.questions:
            if q.id in first:
                where = first[q.id]
                if pages is None or parsed.page in pages:
                    problems.append(
                        Problem(
                            display(parsed.page),
                            q.line,
                            f"duplicate question ID {q.id} "
                            f"(first at {display(where[0])}:{where[1]})",
                        )
                    )
            else:
                first[q.id] = (parsed.page, q.line)
        if pages is None or parsed.page in pages:
            problems += check_page(parsed, docs_dir, display(parsed.page), figures)
            problems += check_obsidian(parsed, vault, docs_dir, display(parsed.page))
    for tmp in sorted(docs_dir.rglob(".*.tmp")):
        if TEMP_NAME_RE.fullmatch(tmp.name):
            problems.append(
                Problem(
                    display(tmp.relative_to(docs_dir).as_posix()),
                    1,
                    "temporary file left by an interrupted edit: delete it",
                )
            )
    return sorted(problems)


def active_content(parsed: ParsedPage) -> list[tuple[int, str]]:
    """``(line, message)`` for raw HTML in the page that would run script.

    ``<script>`` elements, ``on*=`` event handlers and ``javascript:`` (or
    ``vbscript:``, ``data:text/html``) URLs in tags, Markdown links, autolinks and
    link definitions. Code (fences, indented code, code spans) and comments are
    not looked at: there they are text. Tags may span lines.
    """
    texts = [
        _blank_code_spans(line_body(line)) if kind == TEXT else ""
        for line, kind in zip(parsed.lines, parsed.kinds, strict=True)
    ]
    found: list[tuple[int, str]] = []
    joined = "\n".join(texts)
    if "<" in joined:
        starts = [0]
        for text in texts:
            starts.append(starts[-1] + len(text) + 1)
        for m in RAW_TAG_RE.finditer(joined):
            n = bisect.bisect_right(starts, m.start())
            name = m["name"].lower()
            if name in SCRIPT_TAGS and not m["close"]:
                why = "a program that runs in the reader's browser"
                found.append((n, f"raw <{name}> in the note: {why} ({REMOVED})"))
            for h in EVENT_HANDLER_RE.finditer(m["attrs"]):
                n = bisect.bisect_right(starts, m.start("attrs") + h.start())
                what = f"event handler {h['attr']}= in raw HTML <{name}>"
                found.append((n, f"{what}: script in the reader's browser ({REMOVED})"))
            for u in URL_ATTR_RE.finditer(m["attrs"]):
                url = u["dq"] if u["dq"] is not None else u["sq"] or u["bare"] or ""
                n = bisect.bisect_right(starts, m.start("attrs") + u.start())
                if is_script_url(url):
                    found.append((n, _script_url_message(url)))
    for i, text in enumerate(texts):
        if ":" not in text:
            continue
        urls = [m["url"].strip("<>") for m in LINK_RE.finditer(text)]
        urls += [m["url"] for m in ANY_AUTOLINK_RE.finditer(text)]
        definition = LINK_DEFINITION_RE.match(text)
        if definition:
            urls.append(definition["url"])
        found += [(i + 1, _script_url_message(u)) for u in urls if is_script_url(u)]
    return sorted(found)


REMOVED = "the site removes it; show code in a fence"


def _blank_code_spans(body: str) -> str:
    """``body`` with its code spans blanked out (the columns kept)."""
    return CODE_SPAN_RE.sub(lambda m: " " * len(m.group(0)), body)


def _script_url_message(url: str) -> str:
    shown = url if len(url) <= 40 else url[:37] + "..."
    return (
        f"script URL {shown} in a link: it runs in the reader's browser when "
        f"followed ({REMOVED})"
    )
