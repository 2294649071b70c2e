"""Progress per topic: counts, bars and the generated page's Markdown."""

from __future__ import annotations

from pathlib import Path

from dlnotes.kb.notes import KnowledgeBase
from dlnotes.kb.progress import bar, compute_progress, progress_markdown


def _kb(tmp_path: Path) -> KnowledgeBase:
    files = {
        "cnn/a.md": "- [x] a #Q-cnn-01 ✅ 2026-01-02\n- [ ] b #Q-cnn-02\n"
        "- [/] [r](https://r.org/)\n- [x] [s](https://s.org/)\n- [ ] [t](https://t.org/)\n",
        "cnn/b.md": "- [x] c [x] #Q-cnn-03 ✅ 2026-03-04\n",
        "books/x.md": "- [x] 第 1 章\n- [/] 第 2 章\n- [ ] 第 3 章\n",
        "index.md": "- [ ] 首页的问题 #Q-home-01\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text, encoding="utf-8")
    return KnowledgeBase.scan(tmp_path)


def test_counts_per_topic_and_total(tmp_path: Path) -> None:
    rows = {r.topic: r for r in compute_progress(_kb(tmp_path))}
    assert list(rows) == ["books", "cnn", "home", "total"]
    cnn = rows["cnn"]
    assert (cnn.questions, cnn.resolved) == (3, 2)
    assert (cnn.resources, cnn.read, cnn.digested) == (3, 2, 1)
    assert (rows["books"].chapters, rows["books"].done) == (3, 1)
    total = rows["total"]
    assert (total.questions, total.resolved, total.resources, total.chapters) == (
        4,
        2,
        3,
        3,
    )


def test_bar() -> None:
    assert bar(1, 4, 8) == "██░░░░░░"
    assert bar(0, 0, 3) == "   "
    assert bar(3, 3, 5) == "█████"


def test_page_links_open_questions_and_lists_recent_ones(tmp_path: Path) -> None:
    md = progress_markdown(_kb(tmp_path), titles={"cnn": "卷积神经网络"})
    assert "| 卷积神经网络 `cnn` |" in md
    assert 'value="2" max="3"' in md  # cnn questions resolved
    assert "## 待解决的疑问（2）" in md
    assert "- [b](cnn/a.md#q-cnn-02) `Q-cnn-02`" in md
    assert "- [首页的问题](index.md#q-home-01) `Q-home-01`" in md
    recent = md.split("## 最近解决的疑问")[1]
    assert recent.index("2026-03-04") < recent.index("2026-01-02")  # newest first
    assert r"[c \[x\]](cnn/b.md#q-cnn-03)" in recent  # brackets escaped in link text
    nested = progress_markdown(_kb(tmp_path), page="study/progress.md")
    assert "(../cnn/a.md#q-cnn-02)" in nested
