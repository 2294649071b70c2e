"""The tracker: lookups by ID or text and edits over a docs folder."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from dlnotes.kb.errors import StudyError
from dlnotes.kb.tracker import Tracker


def test_tracker_finds_by_text_and_refuses_ambiguity(docs: Path) -> None:
    tracker = Tracker(docs)
    assert tracker.find_question("共享的是什么").id == "Q-cnn-01"
    with pytest.raises(StudyError, match="2 questions match"):
        tracker.find_question("为什么")
    with pytest.raises(StudyError, match="no question Q-cnn-77"):
        tracker.find_question("Q-cnn-77")
    r = tracker.find_resource(
        "https://blog.csdn.net/ture_dream/article/details/53241133?spm=1"
    )
    assert r.title.startswith("一张图")
    assert tracker.set_resource(r.id, "digested").status == "digested"
    c = tracker.set_chapter("第 3 章", "doing")
    assert (c.status, c.page) == ("doing", "index.md")


def test_ask_numbers_questions_site_wide(docs: Path) -> None:
    tracker = Tracker(docs)
    q = tracker.ask("index.md", "首页上的问题？", topic="cnn")
    assert q.id == "Q-cnn-04"  # Q-cnn-01..03 live on another page
    text = (docs / "index.md").read_text(encoding="utf-8")
    assert text.endswith("## 疑问\n\n- [ ] 首页上的问题？ #Q-cnn-04\n")
    q2 = tracker.ask("cnn/sharing.md", "又一个？")
    assert q2.id == "Q-cnn-05"  # the topic of the page's own questions
    sharing = (docs / "cnn/sharing.md").read_text(encoding="utf-8")
    assert "#Q-cnn-03\n- [ ] 又一个？ #Q-cnn-05\n\n```markdown" in sharing


def test_duplicate_ids_are_reported_not_guessed(docs: Path) -> None:
    (docs / "dup.md").write_text(
        textwrap.dedent("""\
        - [ ] 重复 #Q-cnn-01
        """),
        encoding="utf-8",
    )
    with pytest.raises(StudyError, match="more than once"):
        Tracker(docs).resolve("Q-cnn-01")
