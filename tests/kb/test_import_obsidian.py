"""`dlnotes import` of notes written in Obsidian: one grammar with the site."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlnotes.cli import main
from dlnotes.kb.importer import import_text
from dlnotes.kb.notes import parse_page
from dlnotes.kb.obsidian import front_matter
from dlnotes.kb.wikilinks import Vault

RAW = """\
---
tags: [resnet]
aliases: [残差]
---
# 读 ResNet

这一段有两行，
Obsidian 里分两行显示。%%私密的想法%%

%%
整段私密
%%

> [!tip] 提示
> 见 [[pooling]] 与 [[卷积神经网络]] 和 [[不存在的页]]。

#tips ![[fig.png|300]] ![[丢了.png]]

- 为什么要残差？
    - 我猜是梯度更好传？
    - 或者是恒等映射容易学？
"""


def _vault() -> Vault:
    # the docs folder, with the image an earlier import copied
    return Vault.from_texts(
        [("cnn/pooling.md", "# 池化\n"), ("cnn/index.md", "# 卷积神经网络\n")],
        ["assets/imported/inbox-resnet/fig.png"],
    )


def _import(raw: str, tmp_path: Path, previous: str | None = None) -> tuple[str, list]:
    (tmp_path / "fig.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    result = import_text(
        raw,
        page="inbox/resnet.md",
        topic="resnet",
        used_ids=set(),
        date="2026-12-01",
        source_dir=tmp_path,
        vault=_vault(),
        previous=previous,
    )
    return result.text, result.report


def test_obsidian_forms_are_kept_as_written(tmp_path: Path) -> None:
    text, report = _import(RAW, tmp_path)
    assert text.startswith("---\ntags: [resnet]\naliases: [残差]\n---\n")
    assert front_matter(text) == {"tags": ["resnet"], "aliases": ["残差"]}
    # comments dropped and reported
    assert "私密" not in text and "%%" not in text
    assert any(
        "dropped 2 Obsidian comment(s)" in line and "line(s) 8, 10" in line
        for line in report
    )
    # the callout as written; wikilinks kept, by title rewritten, unknown as text
    assert "> [!tip] 提示\n" in text
    assert "[[pooling]]" in text
    assert "[[cnn/index|卷积神经网络]]" in text
    assert "不存在的页" in text and "[[不存在的页]]" not in text
    assert any("[[不存在的页]] does not resolve" in line for line in report)
    # tags as written; the image copied and embedded by its new path
    assert "#tips ![[assets/imported/inbox-resnet/fig.png|300]]" in text
    assert "<!-- dlnotes import: missing image 丢了.png -->" in text
    # the lines of a paragraph stay lines (hard breaks)
    assert "这一段有两行，  \nObsidian 里分两行显示。\n" in text


def test_guesses_under_a_question_are_its_draft_answer(tmp_path: Path) -> None:
    text, _ = _import(RAW, tmp_path)
    parsed = parse_page(text, "inbox/resnet.md")
    assert [q.text for q in parsed.questions] == ["为什么要残差？"]
    assert parsed.questions[0].answer == (
        "- 我猜是梯度更好传？\n- 或者是恒等映射容易学？"
    )
    assert parsed.chapters == []


def test_import_is_a_fixpoint(tmp_path: Path) -> None:
    text, _ = _import(RAW, tmp_path)
    again, _ = _import(text, tmp_path)
    assert again == text


def test_previous_tracker_state_is_kept(tmp_path: Path) -> None:
    text, _ = _import(RAW, tmp_path)
    qid = parse_page(text, "x.md").questions[0].id
    resolved = text.replace(
        f"- [ ] 为什么要残差？ #{qid}", f"- [x] 为什么要残差？ #{qid} ✅ 2026-12-01"
    )
    edited_raw = RAW.replace("# 读 ResNet", "# 读 ResNet（第二遍）")
    new, report = _import(edited_raw, tmp_path, previous=resolved)
    q = parse_page(new, "x.md").questions[0]
    assert (q.id, q.status, q.resolved) == (qid, "resolved", "2026-12-01")
    assert "# 读 ResNet（第二遍）" in new
    assert any("kept the tracker state of 1 question" in line for line in report)


def test_reimport_updates_the_page_it_made(
    site: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(site)
    note = tmp_path / "我的 ResNet.md"
    note.write_text("# ResNet\n\n- 为什么要残差？\n- 什么是恒等映射？\n", "utf-8")
    assert main(["import", str(note), "--to", "cnn/resnet-notes.md", "--write"]) == 0
    page = site / "docs/cnn/resnet-notes.md"
    assert front_matter(page.read_text("utf-8"))["imported_from"] == str(note)
    assert main(["resolve", "Q-cnn-04", "--answer", "因为梯度能直接传回去。"]) == 0
    capsys.readouterr()

    # the raw note changes: re-importing it (no --to) updates the same page
    note.write_text(
        "# ResNet\n\n- 为什么要残差？\n- 什么是恒等映射？\n- 新的问题？\n", "utf-8"
    )
    assert main(["import", str(note), "--write"]) == 0
    text = page.read_text("utf-8")
    parsed = parse_page(text, "cnn/resnet-notes.md")
    assert [(q.id, q.status) for q in parsed.questions] == [
        ("Q-cnn-04", "resolved"),
        ("Q-cnn-05", "open"),
        ("Q-cnn-06", "open"),
    ]
    assert parsed.questions[0].answer == "因为梯度能直接传回去。"
    assert not (site / "docs/inbox").exists()

    # a page edited by hand (not only its tracker state) is not overwritten
    page.write_text(text + "\n我在页面上加的一段。\n", "utf-8")
    capsys.readouterr()
    assert main(["import", str(note), "--write"]) == 2
    assert "was edited after it was imported" in capsys.readouterr().err
    assert "我在页面上加的一段" in page.read_text("utf-8")
