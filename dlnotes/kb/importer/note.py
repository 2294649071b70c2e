"""A whole raw note to a page: :func:`import_text`, and re-imports that keep state."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from dlnotes.kb.grammar import (
    ATX_HEADING_RE,
    CALLOUT_RE,
    CODE_TAG_RE,
    COMMENT_MARK,
    DONE_DATE_RE,
    FENCE_RE,
    FRONT_MATTER,
    LIST_ITEM_RE,
    QUESTION_TAIL_RE,
    RUN_TOGETHER_RE,
    TASK_RE,
    THEMATIC_BREAK_RE,
    classify_lines,
    heading_slug,
    line_body,
    next_question_id,
    question_ids,
    split_lines,
)
from dlnotes.kb.importer.inline import InlineContext, transform_inline
from dlnotes.kb.importer.linebreaks import lost_line_breaks, recover_line_breaks
from dlnotes.kb.importer.structure import (
    PLACEHOLDER,
    Line,
    normalise_structure,
    questions_from_headings,
    space_blocks,
)
from dlnotes.kb.notes import parse_page
from dlnotes.kb.obsidian import scan, without_comments
from dlnotes.kb.wikilinks import Vault


@dataclass
class ImportResult:
    text: str
    encoding: str
    report: list[str] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    images: list[tuple[Path, str]] = field(default_factory=list)  # (source, dest uri)
    recovered: bool = False


# --------------------------------------------------------------------------- #
# The whole note
# --------------------------------------------------------------------------- #


def import_text(
    text: str,
    *,
    page: str,
    topic: str,
    used_ids: set[str],
    date: str,
    source_dir: Path | None = None,
    encoding: str = "utf-8",
    vault: Vault | None = None,
    previous: str | None = None,
    attachments: Path | None = None,
    keep_html: bool = False,
) -> ImportResult:
    """Normalise the raw note ``text`` into the page ``page`` (docs-relative).

    ``vault``: the docs folder the wikilinks resolve in; ``previous``: the text of
    the page an earlier import of this note made, whose tracker state (question IDs,
    statuses, dates, answers, review state; resource and chapter statuses) the new
    page keeps.
    """
    report: list[str] = []
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    front, text = split_front_matter(text)
    text = _drop_comments(text, report, front.count("\n"))
    text = text.replace("\t", "    ") if "```" not in text else text
    raw_lines = text.split("\n")
    recovered = False
    if lost_line_breaks(text):
        fixed: list[str] = []
        for line in raw_lines:
            if len(line) > 300 and len(RUN_TOGETHER_RE.findall(line)) >= 4:
                fixed.extend(recover_line_breaks(line))
                recovered = True
            else:
                fixed.append(line)
        raw_lines = fixed
        report.append("recovered the line breaks the note had lost")
    lines = [raw.rstrip() for raw in raw_lines]
    structured = space_blocks(
        questions_from_headings(normalise_structure(lines, report, date), date)
    )
    # collapse blank runs (outside code) and trim
    collapsed: list[Line] = []
    for item in structured:
        if not item.code and not item.text.strip():
            if collapsed and not collapsed[-1].code and not collapsed[-1].text.strip():
                continue
            collapsed.append(Line(""))
        else:
            collapsed.append(item)
    while collapsed and not collapsed[0].text.strip():
        collapsed.pop(0)
    while collapsed and not collapsed[-1].text.strip() and not collapsed[-1].code:
        collapsed.pop()
    slugs = {
        ln.text: heading_slug(CODE_TAG_RE.sub(r"#\1", m["text"]))
        for ln in collapsed
        if not ln.code and (m := ATX_HEADING_RE.match(ln.text))
    }
    images: list[tuple[Path, str]] = []
    if vault is not None:  # the new page itself, for `[[#heading]]`
        draft = "".join(f"{x.text}\n" for x in collapsed)
        vault = vault.with_page(page, draft)
    ctx = InlineContext(
        source_dir,
        page,
        slugs,
        report,
        images,
        vault=vault,
        attachments=attachments,
        keep_html=keep_html,
    )
    out_lines: list[str] = []
    for n, item in enumerate(collapsed, 1):
        ctx.line_no = n
        out_lines.append(item.text if item.code else transform_inline(item.text, ctx))
    codes = [item.code for item in collapsed]
    out_lines = keep_line_breaks(out_lines, codes)
    # question IDs: keep existing ones unless taken elsewhere, then number the new
    ids: list[str] = []
    taken = set(used_ids)
    if previous is not None:
        out_lines = _keep_tracker_state(out_lines, previous, page, taken, report)
    for n, line in enumerate(out_lines):
        m = QUESTION_TAIL_RE.search(line)
        if m and "- [" in line:
            if m[1] in taken:
                new = next_question_id(m[1].split("-")[1], taken)
                report.append(f"question ID {m[1]} is already used: renumbered {new}")
                out_lines[n] = line[: m.start(1)] + new + line[m.end(1) :]
                taken.add(new)
                ids.append(new)
            else:
                taken.add(m[1])
                ids.append(m[1])
    fresh = question_ids(topic, taken)
    for n, line in enumerate(out_lines):
        if PLACEHOLDER in line:
            qid = next(fresh)
            taken.add(qid)
            ids.append(qid)
            out_lines[n] = line.replace(PLACEHOLDER, f"#{qid}")
    body = "\n".join(out_lines) + "\n"
    result = ImportResult(front + body, encoding, report, ids, images, recovered)
    return result


def split_front_matter(text: str) -> tuple[str, str]:
    """``(front matter, rest)``: the YAML block at the top of a note, kept as is."""
    lines = split_lines(text)
    kinds, _ = classify_lines(lines)
    n = 0
    while n < len(kinds) and kinds[n] == FRONT_MATTER:
        n += 1
    return "".join(lines[:n]), "".join(lines[n:])


def _drop_comments(text: str, report: list[str], offset: int = 0) -> str:
    """The note without its Obsidian ``%%comments%%`` (each one reported)."""
    if COMMENT_MARK not in text:
        return text
    found = scan(text)
    if not found.hidden:
        return text
    starts = sorted(
        {i + 1 + offset for i, ranges in found.hidden.items() for a, _ in ranges}
    )
    opened = [n for n in starts if n == 1 or n - 1 not in starts]
    report.append(
        f"dropped {len(opened)} Obsidian comment(s) (%%…%%, never published) "
        f"at line(s) {', '.join(map(str, opened))}"
    )
    if found.unclosed_comment:
        report.append(
            f"the comment opened at line {found.unclosed_comment + offset} is never "
            "closed: the rest of the note was dropped with it"
        )
    kept = without_comments(found)
    out = [
        line
        for i, line in enumerate(kept)
        if not (i in found.hidden and not line_body(line).strip())
    ]
    return "".join(out)


def keep_line_breaks(lines: list[str], code: list[bool]) -> list[str]:
    """A hard break (two trailing spaces) where a paragraph line goes on below.

    Obsidian shows each line of a paragraph on its own line; Markdown joins them
    into one. Lines of code, headings, tables, tracked items and the lines before
    a new block keep their ending.
    """
    out = list(lines)
    for i in range(len(out) - 1):
        cur, nxt = out[i], out[i + 1]
        if code[i] or code[i + 1] or not cur.strip() or not nxt.strip():
            continue
        if cur.endswith(("  ", "\\", "<br>", "<br/>", "<br />")):
            continue
        body = cur.lstrip(" >")
        if (
            ATX_HEADING_RE.match(body)
            or body.startswith(("|", "<", "$$", "!!!", "???"))
            or TASK_RE.match(cur)
            or PLACEHOLDER in cur
            or CALLOUT_RE.match(cur)
            or THEMATIC_BREAK_RE.match(cur)
        ):
            continue
        quoted = cur.lstrip().startswith(">")
        rest = nxt.lstrip()
        if rest.startswith(">") != quoted:
            continue
        rest = rest.lstrip(" >") if quoted else rest
        if not rest or _starts_block(rest):
            continue
        out[i] = cur.rstrip() + "  "
    return out


def _starts_block(text: str) -> bool:
    return bool(
        LIST_ITEM_RE.match(text)
        or ATX_HEADING_RE.match(text)
        or FENCE_RE.match(text)
        or THEMATIC_BREAK_RE.match(text)
        or text.startswith(("|", "<", "$$", "!!!", "???", "[!"))
    )


def canonical_hash(text: str, page: str) -> str:
    """A hash of a page without its tracker state (statuses, dates, answers).

    Two versions of a page that differ only in what the tracker writes hash alike:
    that is how a re-import tells a page it may update from one the user edited.
    """
    _, body = split_front_matter(text)
    parsed = parse_page(body, page)
    lines = [line_body(line) for line in parsed.lines]
    drop: set[int] = set()
    for q in parsed.questions:
        lines[q.line - 1] = f"{q.text} #{q.id}"
        drop.update(range(q.line, q.end_line))
    for n in [r.line for r in parsed.resources] + [c.line for c in parsed.chapters]:
        m = TASK_RE.match(lines[n - 1])
        if m is not None:
            rest = DONE_DATE_RE.sub("", m["rest"])
            lines[n - 1] = f"{m['indent']}{m['bullet']} [ ] {rest}"
    # blank lines do not count: the tracker adds some around an answer
    kept = [x.rstrip() for i, x in enumerate(lines) if i not in drop and x.strip()]
    return hashlib.sha256("\n".join(kept).strip().encode("utf-8")).hexdigest()[:16]


def _keep_tracker_state(
    lines: list[str], previous: str, page: str, taken: set[str], report: list[str]
) -> list[str]:
    """Carry the tracker state of the page's previous import over to the new text."""
    _, old_body = split_front_matter(previous)
    old = parse_page(old_body, page)
    by_text = {_norm(q.text): q for q in old.questions}
    by_url = {r.url: r for r in old.resources}
    by_chapter = {(c.plan, _norm(c.text)): c for c in old.chapters}
    new = parse_page("\n".join(lines) + "\n", page)
    out = list(lines)
    inserts: dict[int, list[str]] = {}
    kept = 0
    for n, line in enumerate(lines):
        if PLACEHOLDER not in line:
            continue
        m = TASK_RE.match(line)
        text = line.split(f" {PLACEHOLDER}")[0]
        text = m["rest"].split(f" {PLACEHOLDER}")[0] if m else text
        q = by_text.pop(_norm(text), None)
        if q is None or q.id in taken:
            continue
        indent = line[: len(line) - len(line.lstrip())]
        old_line = line_body(old.lines[q.line - 1])
        out[n] = indent + old_line.lstrip()  # its ID is taken by the caller
        kept += 1
        has_answer = n + 1 < len(lines) and any(
            x.strip() and x.startswith(indent + "    ") for x in lines[n + 1 : n + 3]
        )
        if q.answer and not has_answer:
            inserts[n] = [""] + [
                f"{indent}    {a}" if a.strip() else "" for a in q.answer.split("\n")
            ]
    for r in new.resources:
        was = by_url.get(r.url)
        if was is not None and was.mark != r.mark:
            out[r.line - 1] = line_body(old.lines[was.line - 1])
    for c in new.chapters:
        was_c = by_chapter.get((c.plan, _norm(c.text)))
        if was_c is not None and was_c.mark != c.mark:
            body = out[c.line - 1]
            m = TASK_RE.match(body)
            if m is not None:
                at = m.start("mark")
                out[c.line - 1] = body[:at] + was_c.mark + body[at + 1 :]
    for q in by_text.values():
        report.append(
            f"question {q.id} ({q.text[:30]}) is no longer in the note: "
            "dropped with its state"
        )
    if inserts:
        merged: list[str] = []
        for n, line in enumerate(out):
            merged.append(line)
            merged.extend(inserts.get(n, []))
        out = merged
    if kept:
        report.append(f"kept the tracker state of {kept} question(s) of docs/{page}")
    return out


def _norm(text: str) -> str:
    return " ".join(text.split())
