"""The structure of a raw note: lists re-indented, questions and resources marked."""

from __future__ import annotations

from dataclasses import dataclass

from dlnotes.kb.grammar import (
    ATX_HEADING_RE,
    BARE_BRACKETS_RE,
    CHAPTER_TITLE_RE,
    CHECKBOX_RE,
    DONE_MARK,
    FENCE_RE,
    HEADING_NUMBER_RE,
    HTTP_RE,
    LIST_ITEM_RE,
    QUESTION_END_RE,
    QUESTION_RE,
    RAW_LINK_AT_START_RE,
    THEMATIC_BREAK_RE,
    is_plan_heading,
    is_question_heading,
)

# Stands for the ID of a new question until the note is numbered.
PLACEHOLDER = "#Q-@@"


# --------------------------------------------------------------------------- #
# Structure: lists, headings, questions, resources
# --------------------------------------------------------------------------- #


def _width(s: str) -> int:
    return len(s.expandtabs(4))


@dataclass
class Line:
    text: str
    code: bool = False


def _question_item(indent: str, mark: str, text: str, date: str | None) -> str:
    m = QUESTION_RE.match(text)
    if m:  # already a tracked question: keep its ID (and date)
        text = m["text"]
        tail = f" #{m['id']}"
        date = m["date"] or date
    else:
        tail = f" {PLACEHOLDER}"
    if mark.lower() == "x":
        return f"{indent}- [x] {text}{tail} {DONE_MARK} {date}"
    return f"{indent}- [ ] {text}{tail}"


def normalise_structure(lines: list[str], report: list[str], date: str) -> list[Line]:
    """Re-indent lists and headings; mark questions and resources."""
    out: list[Line] = []
    stack: list[int] = []  # source indents of the open list levels
    asks: list[bool] = []  # whether the item open at each level is a question
    fence: tuple[str, int] | None = None
    heading_text = ""
    prev_blank = True
    for raw in lines:
        if fence is not None:
            out.append(Line(raw, code=True))
            body = raw.strip()
            if body and set(body) == {fence[0]} and len(body) >= fence[1]:
                fence = None
            continue
        f = FENCE_RE.match(raw)
        if f:
            fence = (f["fence"][0], len(f["fence"]))
            level_indent = " " * (4 * len(stack)) if stack else ""
            out.append(Line(level_indent + raw.lstrip(), code=True))
            continue
        if not raw.strip():
            out.append(Line(""))
            prev_blank = True
            continue
        h = ATX_HEADING_RE.match(raw)
        if h:
            stack.clear()
            heading_text = h["text"]
            out.append(Line(f"{h['level']} {h['text']}"))
            prev_blank = False
            continue
        item = LIST_ITEM_RE.match(raw)
        if item and not THEMATIC_BREAK_RE.match(raw):
            src = _width(item["indent"])
            while stack and src < stack[-1]:
                stack.pop()
            if not stack or src > stack[-1]:
                stack.append(src)
            level = len(stack) - 1
            del asks[level:]
            indent = " " * (4 * level)
            marker = "-" if item["marker"] in "-*+" else item["marker"]
            text, asked = _list_item(
                indent,
                marker,
                item["body"],
                level,
                heading_text,
                report,
                date,
                in_answer=any(asks),
            )
            asks.append(asked)
            out.append(Line(text))
            prev_blank = False
            continue
        if raw.lstrip().startswith(">") and _width(raw) - _width(raw.lstrip()) < 4:
            stack.clear()  # a quote or callout at the margin ends the list
            asks.clear()
        ind = _width(raw) - _width(raw.lstrip())
        if stack and (not prev_blank or ind > 0):
            # continuation of the current list item
            while len(stack) > 1 and ind < stack[-1] and prev_blank:
                stack.pop()
            out.append(Line(" " * (4 * len(stack)) + raw.strip()))
            prev_blank = False
            continue
        stack.clear()
        text = raw.strip() if ind <= 3 else raw.rstrip()
        if (
            ind <= 3
            and prev_blank
            and QUESTION_END_RE.search(text)
            and len(text) <= 120
            and not text.startswith((">", "|", "<", "!["))
        ):
            out.append(Line(_question_item("", " ", text, date)))
            out.append(Line(""))
            prev_blank = True
            continue
        out.append(Line(text))
        prev_blank = False
    return out


def _list_item(
    indent: str,
    marker: str,
    body: str,
    level: int,
    heading: str,
    report: list[str],
    date: str,
    *,
    in_answer: bool = False,
) -> tuple[str, bool]:
    """The normalised item and whether it is a question.

    Items nested under a question (``in_answer``) are its draft answer: a guess
    that ends with ``？`` stays a list item of the answer, not a new question.
    """
    body = body.strip()
    box = CHECKBOX_RE.match(body)
    mark = box["mark"] if box else None
    content = box["rest"] if box else body
    if BARE_BRACKETS_RE.fullmatch(content):
        report.append(f"link without a URL, not placed (kept as written): {content}")
        return f"{indent}{marker} {content}", False
    link = RAW_LINK_AT_START_RE.match(content)
    if link:
        url = link["url"]
        if HTTP_RE.match(url):
            content = content[: link.start()] + content[link.start() :].replace(
                link.group(0), f"[{link['title']}]({url})", 1
            )
            return f"{indent}{marker} [{mark or ' '}] {content}", False
        return f"{indent}{marker} {content}", False
    if in_answer and QUESTION_RE.match(content) is None:
        if mark is not None:
            report.append(f"checkbox of a draft answer dropped: {content[:40]}")
        return f"{indent}{marker} {content}", False
    question_like = (
        QUESTION_RE.match(content) is not None
        or bool(QUESTION_END_RE.search(content))
        or (
            mark is not None
            and not is_plan_heading(heading)
            and not CHAPTER_TITLE_RE.match(content)
        )
        or (level == 0 and is_question_heading(heading))
    )
    if question_like and content:
        if marker != "-":
            report.append(f"numbered item made a bullet question: {content[:40]}")
        return _question_item(indent, mark or " ", content, date), True
    if mark is not None:
        return f"{indent}{marker} [{mark}] {content}", False
    return f"{indent}{marker} {content}", False


def questions_from_headings(lines: list[Line], date: str) -> list[Line]:
    """A heading that asks a question becomes a question; its section its block."""
    out: list[Line] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        h = None if line.code else ATX_HEADING_RE.match(line.text)
        if h and QUESTION_END_RE.search(h["text"]) and len(h["text"]) <= 120:
            level = len(h["level"])
            text = HEADING_NUMBER_RE.sub("", h["text"])
            out.append(Line(_question_item("", " ", text, date)))
            j = i + 1
            body: list[Line] = []
            while j < len(lines):
                nxt = lines[j]
                hh = None if nxt.code else ATX_HEADING_RE.match(nxt.text)
                if hh and len(hh["level"]) <= level:
                    break
                body.append(nxt)
                j += 1
            while body and not body[0].text.strip():
                body.pop(0)
            while body and not body[-1].text.strip():
                body.pop()
            if body:
                out.append(Line(""))
                for b in body:
                    text_ = b.text
                    hb = None if b.code else ATX_HEADING_RE.match(text_)
                    if hb:  # sub-headings cannot sit inside a list item
                        text_ = f"**{hb['text']}**"
                    out.append(Line("    " + text_ if text_.strip() else "", b.code))
            out.append(Line(""))
            i = j
            continue
        out.append(line)
        i += 1
    return out


def space_blocks(lines: list[Line]) -> list[Line]:
    """Blank lines around headings and before a list that follows a paragraph."""
    out: list[Line] = []
    in_list = False
    for line in lines:
        text = line.text
        prev = out[-1] if out else None
        prev_text = prev.text if prev and not prev.code else ""
        is_heading = not line.code and bool(ATX_HEADING_RE.match(text))
        is_item = not line.code and bool(LIST_ITEM_RE.match(text))
        starts_list = is_item and not text.startswith(" ") and not in_list
        if prev_text.strip() and (is_heading or starts_list):
            out.append(Line(""))
        if ATX_HEADING_RE.match(prev_text) and text.strip():
            out.append(Line(""))
        out.append(line)
        if is_item:
            in_list = True
        elif not text.strip() or line.code:
            pass
        elif not text.startswith(" "):
            in_list = False
    return out
