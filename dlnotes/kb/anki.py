"""``dlnotes review --export anki FILE.apkg``: the review cards as an Anki deck.

One Anki note per answered question, written with genanki. Its GUID is derived
from the question ID (``genanki.guid_for``), and the model and deck IDs are fixed,
so importing a later export into Anki *updates* the cards it made before instead of
adding duplicates. One sub-deck per topic (``深度学习笔记::cnn``). The answer's
Markdown becomes HTML (code blocks, lists, tables); ``$…$`` and ``$$…$$`` become
Anki's MathJax delimiters ``\\(…\\)`` and ``\\[…\\]``, and the HTML goes through the
nh3 allow-list sanitiser like the site's pages.
"""

from __future__ import annotations

import hashlib
import html
import re
from pathlib import Path

from dlnotes.kb.errors import StudyError
from dlnotes.kb.notes import KnowledgeBase, Question
from dlnotes.kb.review import cards_of

DECK_NAME = "深度学习笔记"
CSS = """\
.card { font-family: "Noto Sans CJK SC", sans-serif; font-size: 18px;
        text-align: left; color: black; background-color: white; }
.source { color: #888; font-size: 13px; margin-top: 1.5em; }
pre { background: #f5f5f5; padding: .6em; overflow-x: auto; }
"""


def _stable_id(name: str) -> int:
    """A 31-bit ID from ``name`` (Anki model and deck IDs must stay the same)."""
    return int(hashlib.sha256(name.encode("utf-8")).hexdigest()[:7], 16) + (1 << 30)


MODEL_ID = _stable_id("dlnotes question card v1")

# $$…$$ first (display), then $…$ (inline, not `\$`, no space just inside).
_DISPLAY = re.compile(r"\$\$(.+?)\$\$", re.S)
_INLINE = re.compile(r"(?<![\\$])\$(?!\s)([^$\n]+?)(?<!\s)\$(?!\d)")
_CODE = re.compile(r"(```.*?```|`[^`\n]+`)", re.S)


def markdown_to_anki(text: str) -> str:
    """The answer's Markdown as sanitised HTML with MathJax delimiters Anki knows."""
    import markdown
    import nh3

    math: list[str] = []

    def keep(m: re.Match[str], display: bool) -> str:
        body = html.escape(m.group(1).strip() if display else m.group(1))
        math.append(f"\\[{body}\\]" if display else f"\\({body}\\)")
        return f"\x00{len(math) - 1}\x00"

    # math outside code: protect it from Markdown's emphasis rules
    parts = _CODE.split(text)
    for i in range(0, len(parts), 2):
        parts[i] = _DISPLAY.sub(lambda m: keep(m, True), parts[i])
        parts[i] = _INLINE.sub(lambda m: keep(m, False), parts[i])
    body = markdown.markdown(
        "".join(parts), extensions=["fenced_code", "tables", "sane_lists"]
    )
    body = re.sub("\x00(\\d+)\x00", lambda m: math[int(m.group(1))], body)
    return nh3.clean(body)


def _fields(q: Question) -> list[str]:
    front = markdown_to_anki(q.text)
    back = markdown_to_anki(q.answer)
    source = html.escape(f"{q.id} · {q.page}")
    return [front, back, source]


def export_deck(kb: KnowledgeBase, path: Path, *, topic: str | None = None) -> int:
    """Write the answered questions of ``kb`` to the ``.apkg`` at ``path``."""
    import genanki

    if path.suffix != ".apkg":
        raise StudyError(f"{path}: an Anki deck file must end in .apkg")
    if not path.parent.is_dir():
        raise StudyError(f"{path.parent}: no such folder")
    model = genanki.Model(
        MODEL_ID,
        "dlnotes 问答",
        fields=[{"name": "Question"}, {"name": "Answer"}, {"name": "Source"}],
        templates=[
            {
                "name": "问 → 答",
                "qfmt": "{{Question}}",
                "afmt": '{{FrontSide}}<hr id="answer">{{Answer}}'
                '<div class="source">{{Source}}</div>',
            }
        ],
        css=CSS,
    )
    decks: dict[str, genanki.Deck] = {}
    cards = cards_of(kb, topic=topic)
    for card in cards:
        q = card.question
        name = f"{DECK_NAME}::{q.section or q.topic}"
        deck = decks.get(name)
        if deck is None:
            deck = decks[name] = genanki.Deck(_stable_id(name), name)
        deck.add_note(
            genanki.Note(
                model=model,
                fields=_fields(q),
                guid=genanki.guid_for(q.id),
                tags=[q.topic],
            )
        )
    if not decks:
        raise StudyError("no answered questions to export")
    genanki.Package(list(decks.values())).write_to_file(str(path))
    return len(cards)
