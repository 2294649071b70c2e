"""Wikilink resolution by Obsidian's rules, over a small vault and over docs/."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlnotes.kb.obsidian import find_links
from dlnotes.kb.wikilinks import LinkError, Resolved, Vault
from tests.support import DOCS

NOTES = {
    "index.md": "# 首页\n\n见 [[ResNet]]。\n",
    "cnn/index.md": "# 卷积神经网络\n\n## 典型结构\n\n## 典型结构\n",
    "cnn/pooling.md": "---\naliases: [池化层, Pooling]\ntags: cnn\n---\n# 池化\n",
    "nn/index.md": "# 神经网络基础\n",
    "nn/neuron.md": (
        "# 神经元模型\n\n## M-P 神经元 {#mp}\n\n### `sigmoid` 与 **tanh**\n"
    ),
    "resnet/ResNet.md": "# 残差网络\n",
    "a/dup.md": "# A\n",
    "b/dup.md": "# B\n",
    "b/deep/dup.md": "# C\n",
}
FILES = ["cnn/Pasted image 1.png", "assets/fig.png", "nn/fig.png"]


@pytest.fixture(scope="module")
def vault() -> Vault:
    return Vault.from_texts(NOTES.items(), FILES)


@pytest.mark.parametrize(
    ("target", "page", "expected"),
    [
        ("ResNet", "index.md", "resnet/ResNet.md"),  # file name anywhere
        ("resnet", "index.md", "resnet/ResNet.md"),  # without case
        ("ResNet.md", "index.md", "resnet/ResNet.md"),
        ("cnn/pooling", "index.md", "cnn/pooling.md"),  # a path from the root
        ("../nn/neuron", "cnn/pooling.md", "nn/neuron.md"),  # relative
        ("./pooling", "cnn/index.md", "cnn/pooling.md"),
        ("index", "nn/neuron.md", "nn/index.md"),  # the note's folder first
        ("index", "resnet/ResNet.md", "index.md"),  # else the shortest path
        ("池化层", "index.md", "cnn/pooling.md"),  # front matter alias
        ("pooling", "nn/neuron.md", "cnn/pooling.md"),
        ("Pasted image 1.png", "cnn/index.md", "cnn/Pasted image 1.png"),
        ("fig.png", "nn/neuron.md", "nn/fig.png"),  # the note's folder
        ("fig.png", "cnn/index.md", "assets/fig.png"),  # an attachments folder
        ("deep/dup", "index.md", "b/deep/dup.md"),  # the end of a path
        ("神经元模型", "index.md", "nn/neuron.md"),  # title (site only)
    ],
)
def test_resolve(vault: Vault, target: str, page: str, expected: str) -> None:
    assert vault.resolve(target, page).path == expected


def test_title_is_not_an_obsidian_rule(vault: Vault) -> None:
    with pytest.raises(LinkError, match="no note or file named"):
        vault.resolve("神经元模型", "index.md", titles=False)
    assert vault.resolve("池化层", "index.md", titles=False).path == "cnn/pooling.md"


def test_ambiguous_and_missing(vault: Vault) -> None:
    # a/dup.md and b/dup.md are equally short: Obsidian cannot tell them apart
    with pytest.raises(LinkError, match=r"ambiguous: a/dup\.md, b/deep/dup"):
        vault.resolve("dup", "index.md")
    assert vault.resolve("dup", "b/x.md").path == "b/dup.md"  # same folder wins
    with pytest.raises(LinkError, match="no note or file named 'ResNet50'"):
        vault.resolve("ResNet50", "index.md")


def test_headings(vault: Vault) -> None:
    r = vault.resolve("cnn/index", "index.md", "典型结构")
    assert (r.path, r.anchor) == ("cnn/index.md", "典型结构")
    assert r.url("index.md") == "cnn/index.md#典型结构"
    assert r.url("nn/neuron.md") == "../cnn/index.md#典型结构"
    # an explicit {#id}, markup in the heading, Obsidian's `#a#b` heading path
    assert vault.resolve("neuron", "index.md", "M-P 神经元").anchor == "mp"
    assert (
        vault.resolve("neuron", "x.md", "sigmoid 与 tanh").anchor == "sigmoid-与-tanh"
    )
    assert vault.resolve("neuron", "x.md", "神经元模型#M-P 神经元").anchor == "mp"
    assert vault.resolve("neuron", "x.md", "mp").anchor == "mp"  # the anchor itself
    # `[[#heading]]` is the note itself
    assert vault.resolve("", "cnn/index.md", "典型结构").url("cnn/index.md") == (
        "#典型结构"
    )
    with pytest.raises(LinkError, match="has no heading '不存在'"):
        vault.resolve("cnn/index", "index.md", "不存在")
    with pytest.raises(LinkError, match="block reference"):
        vault.resolve("cnn/index", "index.md", "^abc123")


def test_duplicate_headings_get_the_toc_suffix(vault: Vault) -> None:
    page = vault.pages["cnn/index.md"]
    assert [h.anchor for h in page.headings] == [
        "卷积神经网络",
        "典型结构",
        "典型结构_1",
    ]


def test_url_is_relative_and_quoted() -> None:
    r = Resolved("cnn/Pasted image 1.png")
    assert r.url("cnn/index.md") == "Pasted%20image%201.png"
    assert r.url("nn/a.md") == "../cnn/Pasted%20image%201.png"


def test_find_links_forms() -> None:
    text = (
        "a [[p]] b [[p|别名]] c [[p#h]] d [[p#h|x]] e ![[img.png|400]] f [[#本页]]\n"
        "| 表 | [[p\\|表格里的别名]] |\n"
        "`[[inline code]]` %%[[hidden]]%% [[CONV → RELU]*N]\n"
        "```\n[[fenced]]\n```\n"
        "    \n"
    )
    links = find_links(text)
    assert [(x.target, x.heading, x.alias, x.embed, x.line) for x in links] == [
        ("p", "", "", False, 1),
        ("p", "", "别名", False, 1),
        ("p", "h", "", False, 1),
        ("p", "h", "x", False, 1),
        ("img.png", "", "400", True, 1),
        ("", "本页", "", False, 1),
        ("p", "", "表格里的别名", False, 2),
    ]
    assert links[0].col == 2


def test_every_link_in_docs_resolves_by_obsidian_rules() -> None:
    """docs/ opened as an Obsidian vault reads the same: every wikilink and every
    relative Markdown link to a note resolves there (no title matches)."""
    vault = Vault.scan(DOCS)
    problems = []
    for page in vault.pages:
        text = (DOCS / page).read_text(encoding="utf-8")
        for link in find_links(text):
            try:
                vault.resolve(link.target, page, link.heading, titles=False)
            except LinkError as exc:
                problems.append(f"docs/{page}:{link.line}: {exc}")
        problems += _markdown_links(vault, page, text)
    assert not problems, "\n".join(problems)


# Pages the plugins generate at build time: no file in the vault to open.
GENERATED = {"progress.md", "tags.md", "graph.md"}


def _markdown_links(vault: Vault, page: str, text: str) -> list[str]:
    """Obsidian resolves `[x](rel/path.md#heading)` relative to the note."""
    import posixpath
    import re
    from urllib.parse import unquote

    from dlnotes.kb.obsidian import scan

    s = scan(text)
    out = []
    for i in range(len(s.lines)):
        for m in re.finditer(r"\]\((?P<url>[^()\s]+\.md)(?:#[^()\s]*)?\)", s.prose(i)):
            url = unquote(m["url"])
            path = posixpath.normpath(posixpath.join(posixpath.dirname(page), url))
            if path not in vault.pages and path not in GENERATED:
                out.append(f"docs/{page}:{i + 1}: {url} is no note of the vault")
    return out


def test_vault_scan_sees_every_file(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub/a.md").write_text("# A\n", encoding="utf-8")
    (tmp_path / "sub/pic.png").write_bytes(b"\x89PNG")
    (tmp_path / ".obsidian").mkdir()
    (tmp_path / ".obsidian/app.json").write_text("{}", encoding="utf-8")
    vault = Vault.scan(tmp_path)
    assert vault.files == {"sub/a.md", "sub/pic.png"}
    assert vault.resolve("pic.png", "x.md").path == "sub/pic.png"
