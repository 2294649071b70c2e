"""Rendering the Obsidian forms as MkDocs Markdown (no MkDocs needed)."""

from __future__ import annotations

from dlnotes.kb.obsidian_render import Options, Problem, render
from dlnotes.kb.wikilinks import Vault

NOTES = {
    "index.md": "# 首页\n\n## 小结\n\n![[a]]\n",
    "a.md": "# A\n\n见 [[b#二]]。\n\n![[b]]\n",
    "b.md": "# B\n\n## 一\n\n内容一 [链接](sub/c.md#x)\n\n## 二\n\n内容二\n",
    "sub/c.md": "# C\n\n## x\n",
    "self.md": "# 自己\n\n![[self]]\n",
}


def _render(
    page: str, text: str | None = None, tags_page: str | None = "tags.md"
) -> tuple[str, list[Problem]]:
    vault = Vault.from_texts(NOTES.items(), ["img/p.png"])
    options = Options(tags_page=tags_page)
    r = render(text or NOTES[page], page, vault, NOTES.__getitem__, options)
    return r.markdown, r.problems


def test_callouts() -> None:
    text = (
        "> [!TIP] 标题\n> 第一行\n>\n> 第二段\n"
        "\n> [!faq]- \n> 折叠\n"
        "\n- 列表\n    > [!warning]+ 列表里的\n    > 内容\n"
    )
    out, problems = _render("index.md", text)
    assert out == (
        '!!! tip "标题"\n    第一行\n\n    第二段\n'
        '\n??? question "Faq"\n    折叠\n'
        '\n- 列表\n    ???+ warning "列表里的"\n        内容\n'
    )
    assert problems == []


def test_comments_keep_the_rest_of_the_line() -> None:
    out, _ = _render("index.md", "甲 %%乙%% 丙\n%%\n丁\n%%\n戊\n`%%己%%`\n")
    assert out == "甲  丙\n戊\n`%%己%%`\n"


def test_embed_of_a_note_and_a_section_rebases_links() -> None:
    out, problems = _render("index.md")
    assert problems == []
    assert '<div class="dl-embed" markdown>' in out
    assert "[A](a.md)" in out  # the source link of the embed
    assert "[b \\> 二](b.md#二)" in out  # a wikilink inside the embedded note
    assert "[链接](sub/c.md#x)" in out  # a Markdown link of b.md, for index.md
    assert "**一**" in out and "## 一" not in out


def test_embed_cycle_is_reported_once_and_stops() -> None:
    out, problems = _render("self.md")
    assert problems == [Problem(3, "![[self]] embeds itself (via self.md#)")]
    assert out.count("dl-embed") == 0


def test_tags_link_to_the_index_or_stay_text() -> None:
    out, _ = _render("sub/c.md", "正文 #卷积 与 #Q-cnn-01\n")
    assert out == "正文 [#卷积](../tags.md#tag:卷积){ .dl-tag } 与 #Q-cnn-01\n"
    out, _ = _render("index.md", "正文 #卷积\n", tags_page=None)
    assert out == '正文 <span class="dl-tag">#卷积</span>\n'


def test_unresolved_and_image_embeds() -> None:
    out, problems = _render(
        "sub/c.md", "![[p.png|200]] ![[p.png|说明]] [[缺失|文字]]\n"
    )
    assert out == (
        '![p](../img/p.png){ width="200" } ![说明](../img/p.png) '
        '<span class="dl-broken-link">文字</span>\n'
    )
    assert problems == [
        Problem(1, "unresolved [[缺失|文字]]: no note or file named '缺失'")
    ]


def test_embeds_nested_too_deep_are_reported() -> None:
    chain = {f"n{i}.md": f"# N{i}\n\n![[n{i + 1}]]\n" for i in range(8)}
    chain["n8.md"] = "# N8\n"
    vault = Vault.from_texts(chain.items())
    r = render(chain["n0.md"], "n0.md", vault, chain.__getitem__, Options())
    assert [p.message.split(" (via")[0] for p in r.problems] == [
        "![[n5]] nests embeds more than 4 deep"
    ]
    assert r.markdown.count('class="dl-embed"') == 4  # n1 .. n4
