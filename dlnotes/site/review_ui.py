"""The 复习 page's actions under ``mkdocs serve``, behind the endpoint's checks.

``review-due`` returns the due cards (question and answer as sanitised HTML, math
left for MathJax); ``review-grade`` grades one through
:func:`dlnotes.kb.review.grade_question`, the same code path as ``dlnotes review``
(lock, lost-update check, one line of one note).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from dlnotes.kb.anki import markdown_to_anki
from dlnotes.kb.errors import StudyError
from dlnotes.kb.grammar import QUESTION_ID_RE
from dlnotes.kb.review import GRADE_NAMES, GRADES, cards_of, due_cards, grade_question
from dlnotes.kb.tracker import Tracker
from dlnotes.site.serve import Handler, Refused, edit_errors

log = logging.getLogger("mkdocs.plugins.dlnotes.review")
MAX_CARDS = 50


def _html(markdown: str) -> str:
    # `\(…\)`/`\[…\]` inside an arithmatex element: the site's MathJax typesets it
    return f'<div class="arithmatex">{markdown_to_anki(markdown)}</div>'


def review_handlers(tracker: Tracker) -> dict[str, Handler]:
    def due(data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        topic = data.get("topic")
        if topic is not None and not isinstance(topic, str):
            raise Refused(400, "topic must be a string")
        now = dt.datetime.now(dt.UTC)
        try:
            cards = cards_of(tracker.scan(), topic=topic or None)
        except StudyError as exc:
            raise Refused(409, str(exc)) from None
        queue = due_cards(cards, now, new_limit=20)
        return 200, {
            "ok": True,
            "total": len(queue),
            "cards": [
                {
                    "id": c.id,
                    "page": c.question.page,
                    "new": c.is_new,
                    "question": _html(c.question.text),
                    "answer": _html(c.question.answer),
                }
                for c in queue[:MAX_CARDS]
            ],
        }

    def grade(data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        qid, value = data.get("id"), data.get("grade")
        if not isinstance(qid, str) or not QUESTION_ID_RE.fullmatch(qid):
            raise Refused(404, f"unknown ID {qid!r}")
        if isinstance(value, str):
            value = GRADES.get(value)
        if not isinstance(value, int) or value not in GRADE_NAMES:
            raise Refused(400, "grade must be again, hard, good or easy (1-4)")
        with edit_errors():
            state = grade_question(tracker, qid, value)
        log.info("dlnotes: review %s %s -> due %s", qid, GRADE_NAMES[value], state.due)
        return 200, {
            "ok": True,
            "id": qid,
            "due": state.due.date().isoformat(),
            "days": (state.due.date() - dt.datetime.now(dt.UTC).date()).days,
        }

    return {"review-due": due, "review-grade": grade}
