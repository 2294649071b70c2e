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
# Pieces of the note forms the grammar owns: question IDs and dates, checkboxes,
# ATX headings, fences, code spans, snippet includes, question sections, wikilinks.
FORM_MARKERS = (
    "Q-",
    "✅",
    "[ xX/]",
    "#{1,6}",
    "`{3",
    "~{3",
    "(`+)",
    "8<",
    "疑问",
    "问题",
    r"\[\[",
)


def _compiled_patterns(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("compile", "match", "fullmatch", "search", "sub")
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "re"
            and node.args
        ):
            parts = [
                n.value
                for n in ast.walk(node.args[0])
                if isinstance(n, ast.Constant) and isinstance(n.value, str)
            ]
            found.append((node.lineno, "".join(parts)))
    return found


def test_the_note_forms_are_declared_only_in_the_grammar() -> None:
    found = {}
    for folder in ("kb", "runner", "site"):
        for path in sorted((PACKAGE / folder).rglob("*.py")):
            rel = path.relative_to(PACKAGE).as_posix()
            if rel == "kb/grammar.py":
                continue
            hits = [
                line
                for line, pattern in _compiled_patterns(path)
                if any(marker in pattern for marker in FORM_MARKERS)
            ]
            if hits:
                found[rel] = hits
    assert found == {}, f"note forms outside dlnotes/kb/grammar.py: {found}"


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
