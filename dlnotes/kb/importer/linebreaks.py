"""Markdown that lost its line breaks: every heading and bullet run into one line."""

from __future__ import annotations

import re

from dlnotes.kb.grammar import (
    CODE_SPAN_RE,
    GLUED_BULLET_RE,
    GLUED_HEADING_RE,
    GLUED_IMAGE_RE,
    GLUED_NUMBER_RE,
    RUN_TOGETHER_RE,
    WORDISH_RE,
)

# --------------------------------------------------------------------------- #
# Markdown that lost its line breaks
# --------------------------------------------------------------------------- #


def lost_line_breaks(text: str) -> bool:
    """True when some long line holds several headings/bullets run together."""
    return any(
        len(line) > 300 and len(RUN_TOGETHER_RE.findall(line)) >= 4
        for line in text.split("\n")
    )


def split_code_spans(line: str) -> list[tuple[bool, str]]:
    parts: list[tuple[bool, str]] = []
    pos = 0
    for m in CODE_SPAN_RE.finditer(line):
        if m.start() > pos:
            parts.append((False, line[pos : m.start()]))
        parts.append((True, m.group(0)))
        pos = m.end()
    if pos < len(line):
        parts.append((False, line[pos:]))
    return parts


def recover_line_breaks(line: str) -> list[str]:
    """Split one run-together line back into Markdown lines.

    Breaks go before ATX headings, before ``*`` bullets and numbered items (the
    spaces before a marker become its indentation, as they were before the line
    breaks were lost), and before images that follow a heading. ``*`` that closes an
    emphasis, escaped ``\\*`` and code spans are left alone.
    """
    out: list[str] = []
    current = ""
    stars = 0  # '*' seen in the current line that are not bullets (emphasis)

    def flush(indent: str) -> None:
        nonlocal current, stars
        out.append(current)
        current = indent
        stars = 0

    for is_code, chunk in split_code_spans(line):
        if is_code:
            current += chunk
            continue
        i = 0
        while i < len(chunk):
            rest = chunk[i:]
            prev = (current + chunk[:i])[-1:] if (current or i) else ""
            m = GLUED_HEADING_RE.match(rest)
            glued = prev and (
                not WORDISH_RE.match(prev) or len(m.group(2) if m else "") > 1
            )
            if m and prev != "#" and glued and current.strip():
                flush("")
                current = m.group(2) + " "
                i += m.end()
                continue
            m = GLUED_BULLET_RE.match(rest)
            if m and prev != "\\" and current.strip() and stars % 2 == 0:
                flush(m.group(1))
                current += "* "
                i += m.end()
                continue
            m = GLUED_NUMBER_RE.match(rest)
            if m and current.strip():
                flush(m.group(1).replace("\t", "    "))
                current += f"{m.group(2)}. "
                i += m.end()
                continue
            m = GLUED_IMAGE_RE.match(rest)
            if m and current.lstrip().startswith("#") and current.strip("# "):
                flush("")
                i += len(m.group(1))
                continue
            if chunk[i] == "*":
                stars += 1
            current += chunk[i]
            i += 1
    out.append(current)
    cleaned = []
    for piece in out:
        indent = len(piece) - len(piece.lstrip(" "))
        body = re.sub(r"[ \t]{2,}", " ", piece.strip())
        if body:
            cleaned.append(" " * indent + body)
    return cleaned
