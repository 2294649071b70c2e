"""The dlnotes-obsidian plugin reuses a page's rendering across serve rebuilds."""

from __future__ import annotations

import pytest

from dlnotes.kb.obsidian_render import Options
from dlnotes.kb.obsidian_render import render as real_render
from dlnotes.kb.wikilinks import Vault
from dlnotes.site import obsidian


def test_rendering_is_reused_until_the_page_its_embeds_or_the_names_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []

    def counting(markdown: str, page: str, *args: object, **kw: object) -> object:
        calls.append(page)
        return real_render(markdown, page, *args, **kw)

    monkeypatch.setattr(obsidian, "render", counting)
    texts = {"a.md": "# A\n\n![[b]]\n", "b.md": "# B\n\n正文\n"}
    plugin = obsidian.ObsidianPlugin()
    plugin.vault = Vault.from_texts(texts.items())
    plugin._fingerprint = 1
    monkeypatch.setattr(plugin, "_source", texts.__getitem__)
    options = Options(tags_page=None)

    first = plugin._render(texts["a.md"], "a.md", options)
    assert "正文" in first.markdown
    assert plugin._render(texts["a.md"], "a.md", options) is first  # a rebuild
    assert calls == ["a.md"]

    texts["b.md"] = "# B\n\n改过的正文\n"  # the embedded note changed
    assert "改过的正文" in plugin._render(texts["a.md"], "a.md", options).markdown
    plugin._fingerprint = 2  # a name or heading somewhere changed
    plugin._render(texts["a.md"], "a.md", options)
    plugin._render("# A\n\n改了这一页\n", "a.md", options)  # the page itself changed
    assert calls == ["a.md"] * 4
