"""The ``dlnotes-graph`` plugin: links read from notes, backlinks, graph data."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from dlnotes.kb.wikilinks import Vault
from dlnotes.site.graph import note_links, resolve_md_link, sentence_around
from tests.support.sites import build_site, make_linked_site

PAGES = {"index.md", "cnn/index.md", "cnn/pooling.md", "cnn/sharing.md", "nn/neuron.md"}


def test_resolve_md_link_follows_mkdocs_relative_rules() -> None:
    assert resolve_md_link("pooling.md", "cnn/sharing.md", PAGES) == "cnn/pooling.md"
    assert resolve_md_link("../nn/neuron.md#x", "cnn/sharing.md", PAGES) == (
        "nn/neuron.md"
    )
    assert resolve_md_link("<pooling.md>", "cnn/sharing.md", PAGES) == "cnn/pooling.md"
    assert resolve_md_link("cnn/", "index.md", PAGES) == "cnn/index.md"
    assert resolve_md_link("https://example.org/a.md", "index.md", PAGES) is None
    assert resolve_md_link("#anchor", "index.md", PAGES) is None
    assert resolve_md_link("missing.md", "index.md", PAGES) is None
    assert resolve_md_link("../img.png", "cnn/sharing.md", PAGES) is None


def test_links_skip_code_images_and_comments() -> None:
    text = (
        "# 参数共享\n\n"
        '卷积核滑动。池化见[池化](pooling.md "标题")，'
        "神经元见 [神经元](../nn/neuron.md)。\n\n"
        "![图](pooling.md)\n\n"
        "```markdown\n[代码里的](pooling.md)\n```\n\n"
        "行内 `[代码](pooling.md)` 不算。<!-- [注释](pooling.md) -->\n"
    )
    links = note_links("cnn/sharing.md", text, PAGES)
    assert [(link.target, link.text) for link in links] == [
        ("cnn/pooling.md", "池化"),
        ("nn/neuron.md", "神经元"),
    ]
    # the sentence around each link, as the reader sees it (no Markdown)
    assert links[0].sentence == "池化见池化，神经元见 神经元。"


def test_sentence_around_cuts_at_sentence_ends() -> None:
    plain = "第一句。第二句讲池化的作用！第三句。"
    assert sentence_around(plain, "池化") == "第二句讲池化的作用！"
    long = "甲" * 300 + "池化" + "乙" * 300
    cut = sentence_around(long, "池化")
    assert "池化" in cut and len(cut) <= 162 and cut.startswith("…")


@pytest.fixture(scope="module")
def linked_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("linked")
    docs = make_linked_site(root)
    # a note nobody listed anywhere: the folder nav picks it up
    (docs / "inbox").mkdir()
    (docs / "inbox/new-note.md").write_text(
        "# 新笔记\n\n刚导入，讲的是[池化](../cnn/pooling.md)。\n", encoding="utf-8"
    )
    proc = build_site(root)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return root / "site"


def test_backlinks_show_the_linking_notes_with_their_sentence(
    linked_build: Path,
) -> None:
    html = (linked_build / "cnn/pooling/index.html").read_text(encoding="utf-8")
    section = html[html.index('<section class="dl-backlinks">') :]
    section = section[: section.index("</section>")]
    assert 'href="../../inbox/new-note/"' in section and ">新笔记</a>" in section
    assert "刚导入，讲的是<strong>池化</strong>。" in section
    assert 'data-page="cnn/pooling.md"' in section  # the local graph
    sharing = (linked_build / "cnn/sharing/index.html").read_text(encoding="utf-8")
    assert "池化和<strong>参数共享</strong>一样减少参数。" in sharing


def test_graph_json_has_every_note_links_and_open_questions(
    linked_build: Path,
) -> None:
    data = json.loads((linked_build / "assets/graph.json").read_text("utf-8"))
    nodes = {n["id"]: n for n in data["nodes"]}
    assert set(nodes) == {
        "index.md",
        "cnn/sharing.md",
        "cnn/pooling.md",
        "inbox/new-note.md",
    }  # not the graph page, not the generated progress page
    edges = {(e["source"], e["target"]) for e in data["edges"]}
    assert edges == {
        ("index.md", "cnn/sharing.md"),
        ("cnn/pooling.md", "cnn/sharing.md"),
        ("inbox/new-note.md", "cnn/pooling.md"),
    }
    assert nodes["cnn/pooling.md"]["degree"] == 2
    assert nodes["cnn/sharing.md"]["open"] == 2  # Q-cnn-01 and Q-cnn-03
    assert nodes["cnn/pooling.md"]["open"] == 1
    assert nodes["cnn/pooling.md"]["url"] == "cnn/pooling/"
    assert nodes["cnn/pooling.md"]["label"] == "池化"
    assert nodes["cnn/pooling.md"]["color"] == nodes["cnn/sharing.md"]["color"]
    assert nodes["cnn/pooling.md"]["color"] != nodes["inbox/new-note.md"]["color"]


def test_graph_assets_are_served_by_the_site(linked_build: Path) -> None:
    assert (linked_build / "assets/vendor/cytoscape/cytoscape.min.js").is_file()
    html = (linked_build / "graph/index.html").read_text(encoding="utf-8")
    assert re.search(r'<script src="\.\./assets/dlnotes/graph\.js"', html)
    assert 'href="../assets/dlnotes/graph.css"' in html


def test_a_new_note_appears_in_the_nav_without_config_edit(linked_build: Path) -> None:
    html = (linked_build / "index.html").read_text(encoding="utf-8")
    assert 'href="inbox/new-note/"' in html
    assert "新笔记" in html


def test_wikilinks_are_links_and_transclusions_are_tracked() -> None:
    texts = {
        "cnn/sharing.md": "# 参数共享\n",
        "cnn/pooling.md": "# 池化\n",
        "nn/neuron.md": "# 神经元\n\n见 [[sharing|共享]]。![[池化]] %%[[neuron]]%%\n",
    }
    vault = Vault.from_texts(texts.items())
    embeds: set[str] = set()
    links = note_links("nn/neuron.md", texts["nn/neuron.md"], set(texts), vault, embeds)
    assert [(link.target, link.text, link.sentence) for link in links] == [
        ("cnn/sharing.md", "共享", "见 共享。")
    ]
    assert embeds == {"cnn/pooling.md"}
