"""Render the tracked items of a page for the site (used by the MkDocs plugin).

Rendering is done in two steps, so that Python-Markdown does not have to parse any
extra inline HTML (which more than doubled its time per page):

1. :func:`render_markdown` (``on_page_markdown``) replaces the checkbox of each tracked
   line by a start token and appends an end token; the tokens are plain text to
   Markdown (delimited by the private-use characters U+E000/U+E001);
2. :func:`render_html` (``on_page_content``) turns the tokens into HTML and returns
   the question anchors, which the plugin adds to the page's ``present_anchor_ids``
   so MkDocs' anchor validation accepts links such as ``cnn/x.md#q-cnn-01``.

What the reader sees:

* a question: ``待解决``/``已解决`` badge, its text, its ID as a link to itself whose
  ``id`` is the lower-case ID (``#q-cnn-01``), the resolved date; the answer stays
  the indented block below it;
* a resource: ``未读``/``已读``/``已消化`` badge and the link;
* a plan chapter: ``未开始``/``进行中``/``已完成`` badge and the text.

Each item ends with a control span carrying its kind, ID and status and, in the
static site, the CLI command that changes it; under ``mkdocs serve`` a script turns
it into buttons (:mod:`dlnotes.site.serve`). It is excluded from the search index.
"""

from __future__ import annotations

import html
import re
import secrets

from dlnotes.kb.grammar import QUESTION_RE, TASK_RE, line_body, line_ending
from dlnotes.kb.notes import Chapter, ParsedPage, Question, Resource, parse_page

BADGES: dict[str, tuple[str, str]] = {
    "open": ("dl-open", "待解决"),
    "resolved": ("dl-resolved", "已解决"),
    "unread": ("dl-todo", "未读"),
    "read": ("dl-read", "已读"),
    "digested": ("dl-digested", "已消化"),
    "todo": ("dl-todo", "未开始"),
    "doing": ("dl-doing", "进行中"),
    "done": ("dl-done", "已完成"),
}

# The command that moves an item on from its status (shown in the static site).
NEXT_COMMAND: dict[str, str] = {
    "open": "dlnotes resolve {id}",
    "resolved": "dlnotes reopen {id}",
    "unread": "dlnotes read {id}",
    "read": "dlnotes digest {id}",
    "digested": "dlnotes unread {id}",
    "todo": "dlnotes plan start {id}",
    "doing": "dlnotes plan done {id}",
    "done": "dlnotes plan todo {id}",
}


def badge(status: str) -> str:
    cls, label = BADGES[status]
    return f'<span class="dl-badge {cls}">{label}</span>'


def control(kind: str, item_id: str, status: str) -> str:
    """The control span: the CLI command now, buttons under ``mkdocs serve``."""
    command = html.escape(NEXT_COMMAND[status].format(id=item_id))
    return (
        f'<span class="dl-ctl" data-search-exclude data-dl-kind="{kind}" '
        f'data-dl-id="{item_id}" data-dl-status="{status}">'
        f'<code class="dl-cli" title="在终端运行">{command}</code></span>'
    )


def _prefix(body: str) -> str:
    """Indentation and list marker of a task line, without the checkbox."""
    m = TASK_RE.match(body)
    assert m is not None
    return body[: m.start("mark") - 1]


# A token is OPEN, this process's nonce, the fields, CLOSE. Private-use characters
# in a note (icon-font glyphs in a copied prompt) are text like any other: without
# the nonce they never look like a token.
OPEN, CLOSE = "\ue000", "\ue001"
NONCE = secrets.token_hex(6)
TOKEN_RE = re.compile(f"{OPEN}{NONCE}\\|(?P<fields>[bqrc]\\|[^{OPEN}{CLOSE}]*){CLOSE}")


def _token(*fields: str) -> str:
    return f"{OPEN}{NONCE}|" + "|".join(fields) + CLOSE


def render_question(q: Question, body: str) -> str:
    m = TASK_RE.match(body)
    assert m is not None
    qm = QUESTION_RE.match(m["rest"])
    assert qm is not None
    return (
        f"{_prefix(body)}{_token('b', q.status)} {qm['text']} "
        f"{_token('q', q.id, q.status, q.resolved or '')}"
    )


def render_resource(r: Resource, body: str) -> str:
    m = TASK_RE.match(body)
    assert m is not None
    return (
        f"{_prefix(body)}{_token('b', r.status)} {m['rest']} "
        f"{_token('r', r.id, r.status)}"
    )


def render_chapter(c: Chapter, body: str) -> str:
    m = TASK_RE.match(body)
    assert m is not None
    return (
        f"{_prefix(body)}{_token('b', c.status)} {m['rest']} "
        f"{_token('c', c.id, c.status)}"
    )


def render_parsed(parsed: ParsedPage) -> str:
    """The page's Markdown with tokens around every tracked item."""
    lines = list(parsed.lines)
    items: list[tuple[int, Question | Resource | Chapter]] = [
        *((q.line, q) for q in parsed.questions),
        *((r.line, r) for r in parsed.resources),
        *((c.line, c) for c in parsed.chapters),
    ]
    for line_no, item in items:
        line = lines[line_no - 1]
        body, end = line_body(line), line_ending(line)
        if isinstance(item, Question):
            new = render_question(item, body)
        elif isinstance(item, Resource):
            new = render_resource(item, body)
        else:
            new = render_chapter(item, body)
        lines[line_no - 1] = new + end
    return "".join(lines)


def render_markdown(markdown: str, page: str) -> str:
    """Step 1: the page's Markdown with tokens around every tracked item."""
    if "[" not in markdown:
        return markdown
    return render_parsed(parse_page(markdown, page))


def _html_for(fields: list[str], anchors: set[str]) -> str:
    kind = fields[0]
    if kind == "b":
        return badge(fields[1])
    if kind == "q":
        qid, status, date = fields[1], fields[2], fields[3]
        anchor = qid.lower()
        anchors.add(anchor)
        when = f' <span class="dl-date">✅ {date}</span>' if date else ""
        return (
            f'<a class="dl-qid" href="#{anchor}" id="{anchor}">{qid}</a>{when} '
            + control("question", qid, status)
        )
    names = {"r": "resource", "c": "chapter"}
    return control(names[kind], fields[1], fields[2])


def render_html(content: str) -> tuple[str, set[str]]:
    """Step 2: the page's HTML with the tokens replaced, and its question anchors."""
    anchors: set[str] = set()
    if OPEN not in content:
        return content, anchors
    html_out = TOKEN_RE.sub(
        lambda m: _html_for(m["fields"].split("|"), anchors), content
    )
    return html_out, anchors
