"""Spaced review of answered questions, scheduled by FSRS, stored in the notes.

Every answered question (resolved, with an answer below it) is a card: the question
is the front, its answer the back. Its schedule lives in the note itself, as one
HTML comment at the end of the question line, invisible on the site and kept by
Obsidian as it is::

    - [x] 为什么要用残差连接？ #Q-resnet-03 ✅ 2026-11-02 <!--review …-->

with, on that same line (wrapped here)::

    <!--review due=2026-12-03T09:15Z s=3.2104 d=5.1012 state=review
    last=2026-11-30T09:15Z log=2026-11-28:3,2026-11-30:3-->

``due`` is when the card is next due (UTC, minutes), ``s``/``d`` FSRS's stability
(days) and difficulty (1-10), ``state`` FSRS's state, ``last`` the last review, and
``log`` every review as ``date:grade`` (1 again, 2 hard, 3 good, 4 easy) — the
activity history of the progress page. :class:`ReviewState` formats and parses it;
the same text always parses to the same state and formats back byte for byte.

The scheduler is the ``fsrs`` package (py-fsrs, the reference implementation of
FSRS used by Anki) with its default parameters, no sub-day learning steps (a note is
reviewed at most once a day: a new card's first grade schedules it days ahead, as
Anki does with FSRS and no learning steps) and no fuzz (the same grades give the same
dates, so a schedule can be explained and tested).

A question that carries the state of Obsidian's spaced-repetition plugin
(``<!--SR:!2026-12-03,3,250-->``: due date, interval in days, ease × 100) starts
from it: due that day, stability = the interval, difficulty from the ease. The SR
comment itself is never changed (the plugin keeps its own schedule).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from dlnotes.kb.errors import StudyError
from dlnotes.kb.grammar import REVIEW_COMMENT_RE, SR_CARD_RE, SR_COMMENT_RE

if TYPE_CHECKING:
    import fsrs

    from dlnotes.kb.notes import KnowledgeBase, Question
    from dlnotes.kb.tracker import Tracker

__all__ = [
    "GRADES",
    "MATURE_DAYS",
    "ReviewCard",
    "ReviewState",
    "cards_of",
    "due_cards",
    "forecast",
    "grade_question",
    "retention_by_topic",
    "review_activity",
    "schedule",
]

UTC = dt.UTC
# grade name -> FSRS rating value (Rating.Again .. Rating.Easy)
GRADES: dict[str, int] = {"again": 1, "hard": 2, "good": 3, "easy": 4}
GRADE_NAMES = {v: k for k, v in GRADES.items()}
GRADE_LABELS = {1: "重来", 2: "困难", 3: "良好", 4: "简单"}
STATES = {1: "learning", 2: "review", 3: "relearning"}
STATE_VALUES = {v: k for k, v in STATES.items()}
# Anki calls a card "mature" once its interval reaches 21 days; FSRS's stability is
# the interval at 90 % retention, so a card with s >= 21 is mature here.
MATURE_DAYS = 21.0
_TIME = "%Y-%m-%dT%H:%MZ"


def _minute(t: dt.datetime) -> dt.datetime:
    return t.astimezone(UTC).replace(second=0, microsecond=0)


def _fmt_time(t: dt.datetime) -> str:
    return _minute(t).strftime(_TIME)


def _parse_time(text: str, key: str) -> dt.datetime:
    """``2026-12-03T09:15Z`` (fixed width; faster than strptime on 10k cards)."""
    if len(text) == 17 and text[4::3] == "--T:Z" and text[-1] == "Z":
        try:
            return dt.datetime(
                int(text[0:4]),
                int(text[5:7]),
                int(text[8:10]),
                int(text[11:13]),
                int(text[14:16]),
                tzinfo=UTC,
            )
        except ValueError:
            pass
    raise ValueError(f"{key}={text!r} is not a time like 2026-12-03T09:15Z")


@dataclass(frozen=True)
class ReviewState:
    """The FSRS state of one card, as it is written in the note."""

    due: dt.datetime
    stability: float
    difficulty: float
    state: str = "review"
    last: dt.datetime | None = None
    log: tuple[tuple[dt.date, int], ...] = ()

    def __post_init__(self) -> None:
        # canonical: what the comment can hold (UTC minutes, 4 decimals)
        object.__setattr__(self, "due", _minute(self.due))
        object.__setattr__(self, "stability", round(float(self.stability), 4))
        object.__setattr__(self, "difficulty", round(float(self.difficulty), 4))
        if self.last is not None:
            object.__setattr__(self, "last", _minute(self.last))
        if self.state not in STATE_VALUES:
            raise ValueError(f"state={self.state!r}: not one of {sorted(STATE_VALUES)}")
        for day, grade in self.log:
            if grade not in GRADE_NAMES:
                raise ValueError(f"log: grade {grade} of {day} is not 1-4")

    # -- the comment ---------------------------------------------------------- #

    def comment(self) -> str:
        """The ``<!--review …-->`` comment that stores this state in the note."""
        parts = [
            f"due={_fmt_time(self.due)}",
            f"s={self.stability:.4f}",
            f"d={self.difficulty:.4f}",
            f"state={self.state}",
        ]
        if self.last is not None:
            parts.append(f"last={_fmt_time(self.last)}")
        if self.log:
            parts.append(
                "log=" + ",".join(f"{day.isoformat()}:{g}" for day, g in self.log)
            )
        return "<!--review " + " ".join(parts) + "-->"

    @classmethod
    def parse(cls, comment: str) -> ReviewState:
        """The state in a ``<!--review …-->`` comment; ValueError naming the field."""
        m = REVIEW_COMMENT_RE.fullmatch(comment.strip())
        if m is None:
            raise ValueError(f"not a review comment: {comment[:60]!r}")
        fields: dict[str, str] = {}
        for part in m["body"].split():
            key, sep, value = part.partition("=")
            if not sep or key in fields:
                raise ValueError(f"review comment: bad or repeated field {part!r}")
            fields[key] = value
        unknown = set(fields) - {"due", "s", "d", "state", "last", "log"}
        if unknown:
            raise ValueError(f"review comment: unknown field {sorted(unknown)[0]!r}")
        for key in ("due", "s", "d"):
            if key not in fields:
                raise ValueError(f"review comment: {key}= is missing")
        try:
            stability, difficulty = float(fields["s"]), float(fields["d"])
        except ValueError:
            raise ValueError("review comment: s= and d= must be numbers") from None
        if not (math.isfinite(stability) and stability > 0):
            raise ValueError(f"review comment: s={fields['s']} must be > 0")
        if not 1 <= difficulty <= 10:
            raise ValueError(f"review comment: d={fields['d']} must be in 1..10")
        log: list[tuple[dt.date, int]] = []
        for item in filter(None, fields.get("log", "").split(",")):
            day, _, grade = item.partition(":")
            try:
                log.append((dt.date.fromisoformat(day), int(grade)))
            except ValueError:
                raise ValueError(f"review comment: bad log entry {item!r}") from None
        return cls(
            due=_parse_time(fields["due"], "due"),
            stability=stability,
            difficulty=difficulty,
            state=fields.get("state", "review"),
            last=_parse_time(fields["last"], "last") if "last" in fields else None,
            log=tuple(log),
        )

    @classmethod
    def from_sr(cls, due: dt.date, interval: int, ease: int) -> ReviewState:
        """Start from Obsidian SR's SM-2 state (due date, interval, ease × 100).

        Stability is the interval (both are the days until recall drops to the
        target); SM-2's ease (130 hard … 250 default … 350+ easy) maps linearly
        onto FSRS difficulty (10 … 5 … 1).
        """
        due_t = dt.datetime.combine(due, dt.time(), tzinfo=UTC)
        difficulty = min(10.0, max(1.0, 5.0 + (250 - ease) / 24))
        return cls(
            due=due_t,
            stability=max(0.1, float(interval)),
            difficulty=difficulty,
            state="review",
            last=due_t - dt.timedelta(days=max(interval, 0)),
        )

    # -- queries -------------------------------------------------------------- #

    @property
    def reps(self) -> int:
        return len(self.log)

    @property
    def lapses(self) -> int:
        return sum(1 for _, g in self.log if g == 1)

    @property
    def mature(self) -> bool:
        return self.stability >= MATURE_DAYS


def _sr_state(comments: str) -> ReviewState | None:
    m = SR_COMMENT_RE.search(comments)
    if m is None:
        return None
    card = SR_CARD_RE.match(m["cards"])
    assert card is not None
    return ReviewState.from_sr(
        dt.date.fromisoformat(card["due"]), int(card["interval"]), int(card["ease"])
    )


def state_of(q: Question) -> ReviewState | None:
    """The review state written on the question's line (dlnotes', else SR's)."""
    m = REVIEW_COMMENT_RE.search(q.comments)
    if m is not None:
        try:
            return ReviewState.parse(m.group(0))
        except ValueError as exc:
            raise StudyError(f"{q.page}:{q.line}: {exc}") from None
    return _sr_state(q.comments)


# --------------------------------------------------------------------------- #
# Scheduling (FSRS)
# --------------------------------------------------------------------------- #


def _scheduler() -> fsrs.Scheduler:
    import fsrs

    return fsrs.Scheduler(learning_steps=(), relearning_steps=(), enable_fuzzing=False)


def schedule(state: ReviewState | None, grade: int, now: dt.datetime) -> ReviewState:
    """The state after grading the card ``grade`` (1-4) at ``now``."""
    import fsrs

    if grade not in GRADE_NAMES:
        raise ValueError(f"grade must be 1-4 (again, hard, good, easy), got {grade}")
    now = _minute(now)
    if state is None:
        card = fsrs.Card(card_id=1)
        log: tuple[tuple[dt.date, int], ...] = ()
    else:
        card, log = _card(state), state.log
    card, _ = _scheduler().review_card(card, fsrs.Rating(grade), now)
    assert card.stability is not None and card.difficulty is not None
    return ReviewState(
        due=card.due,
        stability=card.stability,
        difficulty=card.difficulty,
        state=STATES[int(card.state)],
        last=now,
        log=(*log, (now.date(), grade)),
    )


def _card(state: ReviewState) -> fsrs.Card:
    import fsrs

    return fsrs.Card(
        card_id=1,
        state=fsrs.State(STATE_VALUES[state.state]),
        step=None,
        stability=state.stability,
        difficulty=state.difficulty,
        due=state.due,
        last_review=state.last,
    )


def retrievability(state: ReviewState, now: dt.datetime) -> float:
    """FSRS's probability of recall at ``now`` (1.0 right after a review)."""
    if state.last is None:
        return 0.0
    return float(_scheduler().get_card_retrievability(_card(state), _minute(now)))


# --------------------------------------------------------------------------- #
# Cards, the due list, statistics
# --------------------------------------------------------------------------- #


@dataclass
class ReviewCard:
    """An answered question and its review state (``None``: never reviewed)."""

    question: Question
    state: ReviewState | None = field(default=None)

    @property
    def id(self) -> str:
        return self.question.id

    @property
    def is_new(self) -> bool:
        return self.state is None

    def due_at(self, now: dt.datetime) -> dt.datetime:
        return self.state.due if self.state is not None else _minute(now)


def is_answered(q: Question) -> bool:
    return q.status == "resolved" and bool(q.answer.strip())


def cards_of(kb: KnowledgeBase, *, topic: str | None = None) -> list[ReviewCard]:
    """Every answered question of ``kb`` (of one topic) as a card."""
    return [
        ReviewCard(q, state_of(q))
        for q in kb.questions
        if is_answered(q) and (topic is None or q.topic == topic)
    ]


def due_cards(
    cards: Iterable[ReviewCard],
    now: dt.datetime,
    *,
    limit: int | None = None,
    new_limit: int | None = None,
) -> list[ReviewCard]:
    """The cards due at ``now``: reviews first (most overdue first), then new cards
    in the order of the notes, at most ``new_limit`` new and ``limit`` in all."""
    now = _minute(now)
    cards = list(cards)
    reviews = sorted(
        (c for c in cards if c.state is not None and c.state.due <= now),
        key=lambda c: (c.state.due, c.id),  # type: ignore[union-attr]
    )
    new = [c for c in cards if c.state is None]
    if new_limit is not None:
        new = new[:new_limit]
    due = reviews + new
    return due[:limit] if limit is not None else due


def forecast(
    cards: Iterable[ReviewCard], today: dt.date, days: int = 30
) -> list[tuple[dt.date, int]]:
    """How many cards fall due on each of the next ``days`` days (overdue → today)."""
    counts: Counter[dt.date] = Counter()
    last = today + dt.timedelta(days=days - 1)
    for card in cards:
        if card.state is None:
            continue
        day = max(card.state.due.date(), today)
        if day <= last:
            counts[day] += 1
    return [
        (today + dt.timedelta(days=i), counts[today + dt.timedelta(days=i)])
        for i in range(days)
    ]


@dataclass
class TopicReview:
    topic: str
    answered: int = 0
    reviewed: int = 0
    mature: int = 0
    due: int = 0
    retention: float | None = None  # mean recall probability of reviewed cards now


def retention_by_topic(
    cards: Sequence[ReviewCard], now: dt.datetime
) -> list[TopicReview]:
    """Per topic: answered, reviewed at least once, mature, due now, retention."""
    rows: dict[str, TopicReview] = {}
    recall: defaultdict[str, list[float]] = defaultdict(list)
    for card in cards:
        row = rows.setdefault(card.question.section, TopicReview(card.question.section))
        row.answered += 1
        if card.state is None:
            row.due += 1
            continue
        if card.state.reps:
            row.reviewed += 1
            recall[row.topic].append(retrievability(card.state, now))
        row.mature += card.state.mature
        row.due += card.state.due <= now
    for topic, values in recall.items():
        rows[topic].retention = sum(values) / len(values)
    return [rows[t] for t in sorted(rows)]


def review_activity(kb: KnowledgeBase) -> dict[dt.date, Counter[str]]:
    """Per day: questions resolved, cards reviewed, resources read (dates in notes)."""
    days: defaultdict[dt.date, Counter[str]] = defaultdict(Counter)
    for q in kb.questions:
        if q.resolved:
            with suppress(ValueError):
                days[dt.date.fromisoformat(q.resolved)]["resolved"] += 1
        try:
            state = state_of(q)
        except StudyError:
            continue
        for day, _ in state.log if state else ():
            days[day]["reviewed"] += 1
    for r in kb.resources:
        if r.status in ("read", "digested") and r.date:
            with suppress(ValueError):
                days[dt.date.fromisoformat(r.date)]["read"] += 1
    return dict(days)


# --------------------------------------------------------------------------- #
# Grading: one line of one note changes
# --------------------------------------------------------------------------- #


def grade_question(
    tracker: Tracker, qid: str, grade: int | str, *, now: dt.datetime | None = None
) -> ReviewState:
    """Grade question ``qid`` and write its new state on its line; returns it.

    The new state is computed from the state read *under the lock*, so two sessions
    grading the same card never lose a review; the write is the store's (atomic,
    checked against a concurrent save, only the question line changes).
    """
    from dlnotes.kb.edits import set_review_text
    from dlnotes.kb.errors import NotFound
    from dlnotes.kb.notes import ParsedPage
    from dlnotes.kb.store import edit_page

    value = GRADES.get(grade, grade) if isinstance(grade, str) else grade
    if value not in GRADE_NAMES:
        raise StudyError(
            f"grade must be one of again, hard, good, easy (or 1-4), got {grade!r}"
        )
    when = now or dt.datetime.now(UTC)
    q = tracker.locate_question(qid)
    if not is_answered(q):
        raise StudyError(f"{qid} has no answer yet: resolve it before reviewing it")
    result: list[ReviewState] = []

    def run(parsed: ParsedPage) -> tuple[str, str]:
        current = parsed.question(qid)
        if current is None:
            raise NotFound(f"{qid} is no longer on {q.page}")
        new = schedule(state_of(current), int(value), when)
        result.append(new)
        return set_review_text(parsed, qid, new.comment()), qid

    assert q.path is not None
    edit_page(q.path, q.page, run, lock_path=tracker.lock_path)
    return result[-1]


def with_state(card: ReviewCard, state: ReviewState) -> ReviewCard:
    return replace(card, state=state)
