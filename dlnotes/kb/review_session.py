"""``dlnotes review``: a review session in the terminal.

Shows each due card's question, reveals the answer on a key, takes a grade
(1 again / 2 hard / 3 good / 4 easy; or a/h/g/e), writes the new schedule into the
note (:func:`dlnotes.kb.review.grade_question`: only that question line changes) and
says when the card comes back. ``q`` ends the session, ``s`` skips a card. In a
terminal a single key press is enough; from a pipe, one line per answer.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Callable
from typing import TextIO

from dlnotes.kb.review import (
    GRADE_LABELS,
    GRADES,
    ReviewCard,
    cards_of,
    due_cards,
    forecast,
    grade_question,
)
from dlnotes.kb.tracker import Tracker

KEYS = {
    "1": 1, "a": 1,
    "2": 2, "h": 2,
    "3": 3, "g": 3, "\r": 3, "\n": 3,
    "4": 4, "e": 4,
}  # fmt: skip
GRADE_PROMPT = "评分: 1 重来  2 困难  3 良好  4 简单   (s 跳过, q 结束) > "


def _read_key(stream: TextIO) -> str:
    """One key press from a terminal, or the first character of a line from a pipe."""
    if stream.isatty():
        import termios
        import tty

        fd = stream.fileno()
        old = termios.tcgetattr(fd)
        try:
            tty.setcbreak(fd)
            key = os.read(fd, 1).decode("utf-8", "replace")
        finally:
            termios.tcsetattr(fd, termios.TCSADRAIN, old)
        return key
    line = stream.readline()
    if not line:
        return "q"  # end of input ends the session
    return line.strip()[:1].lower() or "\n"


def days_until(due: dt.datetime, now: dt.datetime) -> str:
    days = (due.date() - now.date()).days
    if days <= 0:
        return "今天"
    if days == 1:
        return "明天"
    return f"{days} 天后"


def next_due_summary(cards: list[ReviewCard], now: dt.datetime) -> str:
    days = forecast(cards, now.date(), days=7)
    today, tomorrow = days[0][1], days[1][1]
    week = sum(n for _, n in days)
    new = sum(1 for c in cards if c.is_new)
    return (
        f"接下来：今天到期 {today} 张，明天 {tomorrow} 张，7 天内 {week} 张；"
        f"还有 {new} 张新卡片"
    )


def run_session(
    tracker: Tracker,
    *,
    topic: str | None = None,
    limit: int = 20,
    new_limit: int = 10,
    stdin: TextIO | None = None,
    out: TextIO | None = None,
    clock: Callable[[], dt.datetime] | None = None,
) -> int:
    """Run one session; returns how many cards were graded."""
    stdin = stdin or sys.stdin
    out = out or sys.stdout
    now_fn = clock or (lambda: dt.datetime.now(dt.UTC))
    cards = cards_of(tracker.scan(), topic=topic)
    queue = due_cards(cards, now_fn(), limit=limit, new_limit=new_limit)
    if not cards:
        where = f" in topic {topic!r}" if topic else ""
        print(f"no answered questions{where}: nothing to review", file=out)
        return 0
    if not queue:
        print("今天没有到期的卡片。", file=out)
        print(next_due_summary(cards, now_fn()), file=out)
        return 0
    print(f"复习 {len(queue)} 张卡片（回车/空格 显示答案）", file=out)
    graded = 0
    by_id = {c.id: c for c in cards}
    for n, card in enumerate(queue, 1):
        q = card.question
        tag = "新" if card.is_new else "复习"
        print(f"\n[{n}/{len(queue)}] {tag} · {q.id} · {q.page}", file=out)
        print(f"问：{q.text}", file=out)
        print("（按回车显示答案）", end="", file=out, flush=True)
        key = _read_key(stdin)
        if key == "q":
            print("", file=out)
            break
        print("\n答：", file=out)
        for line in q.answer.splitlines():
            print(f"    {line}", file=out)
        while True:
            print(GRADE_PROMPT, end="", file=out, flush=True)
            key = _read_key(stdin).lower()
            if key in KEYS or key in ("q", "s"):
                break
            print(f"\n未知的按键 {key!r}", file=out)
        print("", file=out)
        if key == "q":
            break
        if key == "s":
            print("跳过", file=out)
            continue
        grade = KEYS[key]
        state = grade_question(tracker, q.id, grade, now=now_fn())
        by_id[q.id] = ReviewCard(q, state)
        graded += 1
        print(
            f"→ {GRADE_LABELS[grade]}：下次 {state.due.date().isoformat()}"
            f"（{days_until(state.due, now_fn())}）",
            file=out,
        )
    print(f"\n本次复习了 {graded} 张卡片。", file=out)
    print(next_due_summary(list(by_id.values()), now_fn()), file=out)
    return graded


def due_table(tracker: Tracker, *, topic: str | None = None, limit: int = 50) -> str:
    """The due list as text (``dlnotes review --due``)."""
    now = dt.datetime.now(dt.UTC)
    cards = cards_of(tracker.scan(), topic=topic)
    due = due_cards(cards, now)
    lines = [f"{len(due)} 张到期（{sum(c.is_new for c in due)} 张新卡片）"]
    for card in due[:limit]:
        when = "新" if card.is_new else card.due_at(now).date().isoformat()
        lines.append(f"  {card.id:<16} {when:<10}  {card.question.text}")
    if len(due) > limit:
        lines.append(f"  … 还有 {len(due) - limit} 张")
    lines.append(next_due_summary(cards, now))
    return "\n".join(lines)


__all__ = ["GRADES", "due_table", "run_session"]
