"""The one Markdown grammar: every module asks it, and its forms agree."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from dlnotes.kb import grammar
from dlnotes.kb.grammar import is_question_heading
from dlnotes.kb.importer import import_text
from dlnotes.kb.notes import parse_page
from dlnotes.kb.tracker import Tracker

PACKAGE = Path(grammar.__file__).resolve().parents[1]
# Modules that compile patterns which are not forms of the notes: URL titles of web
# pages, the signs that a raw note lost its line breaks, the renderer's own
# placeholder tokens, terminal colour codes, the HTML MkDocs produces.
NOT_NOTE_FORMS = {
    "kb/grammar.py",
    "kb/links.py",
    "kb/importer.py",
    "kb/render.py",
    "runner/kernel.py",
    "site/figures.py",
}
# The Obsidian forms landed in their own modules before this grammar existed; the
# obsidian work moves them into the grammar's Obsidian section.
NOT_NOTE_FORMS |= {"kb/obsidian.py", "kb/wikilinks.py"}


def _compiles(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "compile"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "re"
    ]


def test_the_tooling_declares_note_patterns_only_in_the_grammar() -> None:
    found = {}
    for folder in ("kb", "runner", "site"):
        for path in sorted((PACKAGE / folder).rglob("*.py")):
            rel = path.relative_to(PACKAGE).as_posix()
            lines = _compiles(path)
            if lines and rel not in NOT_NOTE_FORMS:
                found[rel] = lines
    assert found == {}, f"re.compile outside dlnotes/kb/grammar.py: {found}"
    importer = (PACKAGE / "kb/importer.py").read_text(encoding="utf-8")
    assert importer.count("re.compile(") == 1  # only _RUN_MARKERS


@pytest.mark.parametrize(
    "heading",
    ["疑问", "问题", "问题：", "一些疑问和解答：", "其它疑问", "常见问题", "Q&A"],
)
def test_question_sections(heading: str) -> None:
    assert is_question_heading(heading)


@pytest.mark.parametrize(
    "heading",
    ["退化问题", "用命令行管理疑问、资料和学习计划", "梯度消失问题的原因", "资料"],
)
def test_content_headings_are_not_question_sections(heading: str) -> None:
    assert not is_question_heading(heading)


def test_ask_on_an_imported_page_uses_its_question_section(tmp_path: Path) -> None:
    raw = "# 池化\n\n正文。\n\n## 问题\n\n- 为什么池化？\n\n## 资料\n\n- 无\n"
    result = import_text(raw, page="cnn/pool.md", topic="cnn", used_ids=set(), date="")
    assert "## 问题\n\n- [ ] 为什么池化？ #Q-cnn-01\n" in result.text
    docs = tmp_path / "docs"
    (docs / "cnn").mkdir(parents=True)
    (docs / "cnn/pool.md").write_text(result.text, encoding="utf-8")
    q = Tracker(docs).ask("cnn/pool.md", "最大池化还是平均池化？")
    text = (docs / "cnn/pool.md").read_text(encoding="utf-8")
    assert q.id == "Q-cnn-02"
    assert text.count("## ") == 2  # no second question section
    assert "#Q-cnn-01\n- [ ] 最大池化还是平均池化？ #Q-cnn-02\n\n## 资料" in text
    assert parse_page(text, "cnn/pool.md").question("Q-cnn-02").heading == "问题"


def test_a_content_heading_is_not_where_ask_adds(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "resnet.md").write_text("# 残差\n\n### 退化问题\n\n- 深了反而差\n")
    Tracker(docs).ask("resnet.md", "为什么？", topic="resnet")
    text = (docs / "resnet.md").read_text(encoding="utf-8")
    assert text.endswith("- 深了反而差\n\n## 疑问\n\n- [ ] 为什么？ #Q-resnet-01\n")
