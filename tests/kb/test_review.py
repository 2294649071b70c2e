"""Spaced review: the state in the note, FSRS scheduling, sessions, the Anki deck."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import sys
import zipfile
from pathlib import Path

import fsrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlnotes.cli import main
from dlnotes.kb.anki import export_deck, markdown_to_anki
from dlnotes.kb.notes import KnowledgeBase, parse_page
from dlnotes.kb.render import render_parsed
from dlnotes.kb.review import (
    ReviewState,
    cards_of,
    due_cards,
    forecast,
    grade_question,
    retention_by_topic,
    review_activity,
    schedule,
    state_of,
)
from dlnotes.kb.tracker import Tracker

UTC = dt.UTC
T0 = dt.datetime(2026, 12, 1, 9, 30, tzinfo=UTC)

times = st.datetimes(
    min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2035, 1, 1)
).map(lambda t: t.replace(tzinfo=UTC))
states = st.builds(
    ReviewState,
    due=times,
    stability=st.floats(0.01, 36500),
    difficulty=st.floats(1, 10),
    state=st.sampled_from(["learning", "review", "relearning"]),
    last=st.none() | times,
    log=st.lists(
        st.tuples(
            st.dates(dt.date(2020, 1, 1), dt.date(2035, 1, 1)), st.integers(1, 4)
        ),
        max_size=6,
    ).map(tuple),
)


@settings(max_examples=200, deadline=None)
@given(states)
def test_the_comment_round_trips_byte_for_byte(state: ReviewState) -> None:
    comment = state.comment()
    assert "\n" not in comment and comment.startswith("<!--review ")
    again = ReviewState.parse(comment)
    assert again == state
    assert again.comment() == comment


@pytest.mark.parametrize(
    ("comment", "message"),
    [
        ("<!--review s=1 d=5-->", "due= is missing"),
        ("<!--review due=2026-12-01 s=1 d=5-->", "not a time"),
        ("<!--review due=2026-12-01T09:00Z s=-1 d=5-->", "must be > 0"),
        ("<!--review due=2026-12-01T09:00Z s=1 d=11-->", "must be in 1..10"),
        ("<!--review due=2026-12-01T09:00Z s=1 d=5 x=1-->", "unknown field 'x'"),
        ("<!--review due=2026-12-01T09:00Z s=1 d=5 log=2026-1-->", "bad log entry"),
        ("<!--review due=2026-12-01T09:00Z s=1 d=5 state=new-->", "state='new'"),
    ],
)
def test_bad_comments_name_what_is_wrong(comment: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ReviewState.parse(comment)


def test_schedule_is_fsrs_itself() -> None:
    """Each grade through the note (comment -> state -> comment) is fsrs' own step
    from the state the note held; the note keeps 4 decimals, so many steps drift
    from an in-memory run by rounding only."""
    scheduler = fsrs.Scheduler(
        learning_steps=(), relearning_steps=(), enable_fuzzing=False
    )
    memory = fsrs.Card(card_id=7)
    state: ReviewState | None = None
    now = T0
    for grade in [3, 3, 1, 2, 4, 3, 3, 1, 3]:
        card = (
            fsrs.Card(card_id=7)
            if state is None
            else fsrs.Card(
                card_id=7,
                state=fsrs.State.Review,
                stability=state.stability,
                difficulty=state.difficulty,
                due=state.due,
                last_review=state.last,
            )
        )
        card, _ = scheduler.review_card(card, fsrs.Rating(grade), now)
        memory, _ = scheduler.review_card(memory, fsrs.Rating(grade), now)
        state = ReviewState.parse(schedule(state, grade, now).comment())
        assert state.due == card.due.replace(second=0, microsecond=0)
        assert state.stability == round(card.stability, 4)
        assert state.difficulty == round(card.difficulty, 4)
        assert state.state == "review"
        assert state.stability == pytest.approx(memory.stability, rel=1e-3)
        now = card.due + dt.timedelta(hours=5)
    assert state is not None
    assert [g for _, g in state.log] == [3, 3, 1, 2, 4, 3, 3, 1, 3]
    assert state.lapses == 2 and state.reps == 9


def test_a_first_good_is_days_away_and_again_is_sooner() -> None:
    good, again = schedule(None, 3, T0), schedule(None, 1, T0)
    assert (good.due - T0).days >= 1
    assert again.due < good.due
    assert schedule(good, 4, good.due).due > schedule(good, 2, good.due).due


def _answered(tracker: Tracker) -> str:
    q = tracker.find_question("Q-cnn-02")
    assert q.status == "resolved" and q.answer
    return q.id


def test_grading_changes_only_the_question_line(docs: Path) -> None:
    page = docs / "cnn/sharing.md"
    before = page.read_bytes().split(b"\n")
    tracker = Tracker(docs)
    state = grade_question(tracker, _answered(tracker), "good", now=T0)
    after = page.read_bytes().split(b"\n")
    changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
    assert len(changed) == 1
    line = after[changed[0]].decode()
    assert line.startswith(
        "- [x] 为什么一个卷积核对应一个特征图？ #Q-cnn-02 ✅ 2026-11-22 "
    )
    assert line.endswith(state.comment())
    # the question, its answer and every other item parse as before
    q = Tracker(docs).find_question("Q-cnn-02")
    assert q.text == "为什么一个卷积核对应一个特征图？" and q.resolved == "2026-11-22"
    assert q.answer.startswith("卷积核在每个位置")
    assert state_of(q) == state
    # a second grade replaces the comment in place (still one line, one comment)
    state2 = grade_question(tracker, "Q-cnn-02", 3, now=state.due)
    line2 = page.read_text(encoding="utf-8").split("\n")[changed[0]]
    assert line2.count("<!--review") == 1 and line2.endswith(state2.comment())
    assert state2.reps == 2 and state2.due > state.due


def test_the_state_is_invisible_on_the_page(docs: Path) -> None:
    tracker = Tracker(docs)
    grade_question(tracker, "Q-cnn-02", "easy", now=T0)
    text = (docs / "cnn/sharing.md").read_text(encoding="utf-8")
    rendered = render_parsed(parse_page(text, "cnn/sharing.md"))
    assert "review" not in rendered and "due=" not in rendered


def test_resolve_and_reopen_keep_the_review_state(docs: Path) -> None:
    tracker = Tracker(docs)
    state = grade_question(tracker, "Q-cnn-02", "good", now=T0)
    tracker.reopen("Q-cnn-02")
    q = tracker.find_question("Q-cnn-02")
    assert q.status == "open" and state_of(q) == state
    tracker.resolve("Q-cnn-02", date="2026-12-02")
    q = tracker.find_question("Q-cnn-02")
    assert q.resolved == "2026-12-02" and state_of(q) == state


def test_unanswered_and_bad_grades_are_refused(docs: Path) -> None:
    tracker = Tracker(docs)
    with pytest.raises(Exception, match="no answer yet"):
        grade_question(tracker, "Q-cnn-01", "good", now=T0)
    with pytest.raises(Exception, match="again, hard, good, easy"):
        grade_question(tracker, "Q-cnn-02", "perfect", now=T0)


def test_obsidian_sr_state_is_imported_and_left_alone(docs: Path) -> None:
    page = docs / "cnn/sharing.md"
    text = page.read_text(encoding="utf-8")
    sr = "<!--SR:!2026-12-05,6,270-->"
    text = text.replace("#Q-cnn-02 ✅ 2026-11-22", f"#Q-cnn-02 ✅ 2026-11-22 {sr}")
    page.write_text(text, encoding="utf-8")
    tracker = Tracker(docs)
    q = tracker.find_question("Q-cnn-02")
    state = state_of(q)
    assert state is not None
    assert state.due == dt.datetime(2026, 12, 5, tzinfo=UTC)
    assert state.stability == 6 and state.difficulty < 5  # ease above default
    assert not due_cards(cards_of(tracker.scan()), T0)  # due only on the 5th
    new = grade_question(tracker, "Q-cnn-02", "good", now=state.due)
    line = next(
        x for x in page.read_text(encoding="utf-8").split("\n") if "Q-cnn-02" in x
    )
    assert f"✅ 2026-11-22 {sr} {new.comment()}" in line  # SR comment untouched
    assert new.stability > state.stability


def test_due_list_forecast_and_statistics(docs: Path) -> None:
    tracker = Tracker(docs)
    kb = tracker.scan()
    cards = cards_of(kb)
    assert [c.id for c in cards] == ["Q-cnn-02"]  # the only answered question
    assert [c.id for c in due_cards(cards, T0)] == ["Q-cnn-02"]  # new: due now
    state = grade_question(tracker, "Q-cnn-02", "good", now=T0)
    cards = cards_of(tracker.scan())
    assert due_cards(cards, T0) == []
    assert [c.id for c in due_cards(cards, state.due)] == ["Q-cnn-02"]
    days = forecast(cards, T0.date(), 30)
    assert len(days) == 30 and sum(n for _, n in days) == 1
    assert dict(days)[state.due.date()] == 1
    (row,) = retention_by_topic(cards, state.due)
    assert (row.answered, row.reviewed, row.mature) == (1, 1, 0)
    assert row.retention == pytest.approx(0.9, abs=0.02)  # due at 90 % recall
    activity = review_activity(tracker.scan())
    assert activity[dt.date(2026, 11, 22)]["resolved"] == 1
    assert activity[T0.date()]["reviewed"] == 1


def test_anki_export_holds_the_cards_with_stable_ids(
    docs: Path, tmp_path: Path
) -> None:
    page = docs / "cnn/sharing.md"
    text = page.read_text(encoding="utf-8").replace(
        "卷积核在每个位置做一次内积",
        "卷积核 $w_{ij}$ 在每个位置做一次内积 $$y=\\sum_i w_i x_i$$",
    )
    page.write_text(text, encoding="utf-8")
    first, second = tmp_path / "a.apkg", tmp_path / "b.apkg"
    assert export_deck(KnowledgeBase.scan(docs), first) == 1
    Tracker(docs).resolve("Q-cnn-01", answer="卷积核的权重和偏置。")
    assert export_deck(KnowledgeBase.scan(docs), second) == 2

    def notes(path: Path) -> dict[str, list[str]]:
        with zipfile.ZipFile(path) as z:
            z.extract("collection.anki2", tmp_path / path.stem)
        db = sqlite3.connect(tmp_path / path.stem / "collection.anki2")
        rows = db.execute("select guid, flds from notes").fetchall()
        db.close()
        return {guid: flds.split("\x1f") for guid, flds in rows}

    a, b = notes(first), notes(second)
    assert len(a) == 1 and len(b) == 2
    assert set(a) < set(b)  # the same question keeps its note ID
    front, back, source = a[next(iter(a))]
    assert "为什么一个卷积核对应一个特征图" in front
    assert "\\(w_{ij}\\)" in back and "\\[y=\\sum_i w_i x_i\\]" in back
    assert "$" not in back and "<em>" not in back
    assert "Q-cnn-02" in source


def test_markdown_to_anki_sanitises_and_keeps_code() -> None:
    out = markdown_to_anki(
        "看 `a*b*c`\n\n<script>alert(1)</script>\n\n```python\nx = 1\n```"
    )
    assert "<script" not in out
    assert "<code>a*b*c</code>" in out and "x = 1" in out


def test_cli_due_and_export(
    site: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(site)
    assert main(["review", "--due"]) == 0
    out = capsys.readouterr().out
    assert "1 张到期" in out and "Q-cnn-02" in out
    assert main(["review", "--export", "anki", str(site / "deck.apkg")]) == 0
    assert "1 cards" in capsys.readouterr().out
    assert main(["review", "--export", "csv", str(site / "deck.csv")]) == 2
    assert "unknown format 'csv'" in capsys.readouterr().err
    assert main(["review", "--export", "anki", str(site / "deck.txt")]) == 2
    assert ".apkg" in capsys.readouterr().err


def test_a_terminal_session_grades_cards_in_the_notes(site: Path) -> None:
    """`dlnotes review` in a real pseudo-terminal: single key presses."""
    pexpect = pytest.importorskip("pexpect")
    docs = site / "docs"
    tracker = Tracker(docs)
    tracker.resolve("Q-cnn-01", answer="卷积核的权重。")
    tracker.resolve("Q-cnn-03", answer="同一个特征在图上哪里都一样。")
    before = (docs / "cnn/sharing.md").read_text(encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=os.environ.get("PYTHONPATH", ""), COLUMNS="100")
    child = pexpect.spawn(
        sys.executable,
        ["-m", "dlnotes", "review"],
        cwd=str(site),
        env=env,
        encoding="utf-8",
        timeout=60,
    )
    try:
        child.expect("复习 3 张卡片")
        grades = {}
        for key in ("3", "1", "4"):
            child.expect(r"\] 新 · (Q-cnn-\d+)")
            qid = child.match.group(1)
            child.expect("问：")
            child.expect("按回车显示答案")
            child.send(" ")
            child.expect("答：")
            child.expect("评分")
            child.send(key)
            child.expect("下次 (\\d{4}-\\d{2}-\\d{2})")
            grades[qid] = int(key)
        child.expect("本次复习了 3 张卡片")
        child.expect("接下来")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    after = (docs / "cnn/sharing.md").read_text(encoding="utf-8")
    changed = [
        (a, b)
        for a, b in zip(before.split("\n"), after.split("\n"), strict=True)
        if a != b
    ]
    assert len(changed) == 3
    for old, new in changed:
        assert new.startswith(old + " <!--review ")
    kb = KnowledgeBase.scan(docs)
    for qid, grade in grades.items():
        state = state_of(next(q for q in kb.questions if q.id == qid))
        assert state is not None and [g for _, g in state.log] == [grade]
    # graded again at once: nothing is due
    again = pexpect.run(
        f"{sys.executable} -m dlnotes review", cwd=str(site), env=env, encoding="utf-8"
    )
    assert "今天没有到期的卡片" in again


def test_progress_page_and_cli_show_the_same_review_numbers(
    site: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from dlnotes.kb.progress import compute_review, progress_markdown

    docs = site / "docs"
    tracker = Tracker(docs)
    tracker.resolve("Q-cnn-01", answer="权重。", date="2026-11-30")
    now = dt.datetime.now(UTC)
    grade_question(tracker, "Q-cnn-02", "good", now=now)
    kb = tracker.scan()
    review = compute_review(kb, now=now)
    assert (review.total.answered, review.total.reviewed, review.total.due) == (2, 1, 1)
    assert sum(n for _, n in review.forecast) == 1
    monkeypatch.chdir(site)
    assert main(["progress", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)["review"]
    total = data["topics"][-1]
    assert (total["answered"], total["reviewed"], total["mature"]) == (2, 1, 0)
    assert main(["progress"]) == 0
    out = capsys.readouterr().out
    assert "answered  reviewed  mature" in out and "1 reviewed" in out
    page = progress_markdown(kb)
    assert "| **合计** | 2 |" in page
    assert page.count('class="dl-heat dl-heat-') >= 30 + 7 * 25
    today = now.date().isoformat()
    assert f"{today}：解决 0 · 复习 1 · 读完 0" in page
    assert (
        "2026-11-30：解决 1" in page or (now.date() - dt.date(2026, 11, 30)).days > 180
    )
