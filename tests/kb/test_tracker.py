"""The tracker: lookups by ID or text and edits over a docs folder."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from dlnotes.cli import main
from dlnotes.kb.errors import StudyError
from dlnotes.kb.notes import KnowledgeBase
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


# --------------------------------------------------------------------------- #
# Notes that live in an Obsidian vault, linked into docs/
# --------------------------------------------------------------------------- #

VAULT_NOTE = "# 池化\n\n## 疑问\n\n- [ ] 为什么池化？ #Q-cnn-01\n"


def test_a_note_linked_into_a_vault_is_edited_in_place(tmp_path: Path) -> None:
    vault = tmp_path / "vault"
    vault.mkdir()
    (vault / "池化.md").write_text(VAULT_NOTE, encoding="utf-8")
    docs = tmp_path / "docs"
    (docs / "cnn").mkdir(parents=True)
    link = docs / "cnn/pool.md"
    link.symlink_to(vault / "池化.md")
    tracker = Tracker(docs)
    q = tracker.resolve("Q-cnn-01", answer="降采样。", date="2026-01-05")
    assert (q.page, q.status) == ("cnn/pool.md", "resolved")
    assert tracker.page_path(str(link)) == ("cnn/pool.md", link)
    q2 = tracker.ask("cnn/pool.md", "最大还是平均？")
    assert link.is_symlink()  # still a link: the vault's note got both edits
    text = (vault / "池化.md").read_text(encoding="utf-8")
    assert "#Q-cnn-01 ✅ 2026-01-05\n\n    降采样。\n" in text
    assert text.endswith(f"- [ ] 最大还是平均？ #{q2.id}\n")
    assert sorted(p.name for p in vault.iterdir()) == ["池化.md"]  # no temp left
    assert sorted(p.name for p in (docs / "cnn").iterdir()) == ["pool.md"]


def test_questions_in_a_linked_folder_are_seen_once_despite_a_loop(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    vault = tmp_path / "vault"
    (vault / "deep").mkdir(parents=True)
    (vault / "deep/note.md").write_text(VAULT_NOTE, encoding="utf-8")
    (vault / "deep/back").symlink_to(vault, target_is_directory=True)  # a loop
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# 首页\n", encoding="utf-8")
    (docs / "cnn").symlink_to(vault, target_is_directory=True)
    kb = KnowledgeBase.scan(docs)
    assert [(q.id, q.page) for q in kb.questions] == [("Q-cnn-01", "cnn/deep/note.md")]
    assert main(["questions", "--all", "--docs", str(docs)]) == 0
    assert "Q-cnn-01" in capsys.readouterr().out
    assert (
        main(["resolve", "Q-cnn-01", "--date", "2026-01-06", "--docs", str(docs)]) == 0
    )
    note = (vault / "deep/note.md").read_text(encoding="utf-8")
    assert "- [x] 为什么池化？ #Q-cnn-01 ✅ 2026-01-06\n" in note


def test_a_question_on_the_first_line_of_a_bom_file_is_seen_and_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    note = docs / "bom.md"
    note.write_bytes("\ufeff- [ ] 第一行的问题？ #Q-bom-01\r\n".encode())
    assert main(["questions", "--docs", str(docs)]) == 0
    assert "Q-bom-01" in capsys.readouterr().out
    assert (
        main(["resolve", "Q-bom-01", "--date", "2026-01-07", "--docs", str(docs)]) == 0
    )
    assert note.read_bytes() == (
        "\ufeff- [x] 第一行的问题？ #Q-bom-01 ✅ 2026-01-07\r\n".encode()
    )
