"""Links: every seed link is on the site, cleaned of tracking parameters."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from dlnotes.kb.links import clean_url, tracking_params
from tests.support import DOCS

MD_LINK = re.compile(r"\[[^\]]*\]\((https?://[^)\s]+)\)")
BARE_URL = re.compile(r"https?://[A-Za-z0-9._~:/?#\[\]@!$&'*+,;=%-]+")


def seed_urls(seeds: Path) -> set[str]:
    urls: set[str] = set()
    for seed in sorted(seeds.glob("*.txt")):
        text = seed.read_text(encoding="utf-8")
        linked = MD_LINK.findall(text)
        urls.update(linked)
        rest = MD_LINK.sub(" ", text)
        urls.update(u.rstrip(".,)") for u in BARE_URL.findall(rest))
    return {clean_url(u) for u in urls}


def docs_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in DOCS.rglob("*.md"))


class _Hrefs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)


def test_seed_link_extraction_sees_all_seed_links(seeds_dir: Path) -> None:
    urls = seed_urls(seeds_dir)
    assert len(urls) > 90
    assert "https://cs231n.github.io/transfer-learning/" in urls
    assert "https://www.zhihu.com/question/27239198" in urls  # ?rf= dropped


def test_every_seed_link_appears_on_the_site(seeds_dir: Path) -> None:
    text = docs_text()
    missing = sorted(u for u in seed_urls(seeds_dir) if u not in text)
    assert missing == []


def test_seed_local_paper_links_point_to_the_papers() -> None:
    text = docs_text()
    assert "https://arxiv.org/abs/1603.07285" in text  # conv arithmetic guide
    assert "https://arxiv.org/abs/1503.02406" in text  # information bottleneck


def test_no_source_link_carries_tracking_parameters() -> None:
    dirty = []
    for md in DOCS.rglob("*.md"):
        for n, line in enumerate(md.read_text(encoding="utf-8").splitlines(), 1):
            for url in BARE_URL.findall(line):
                if tracking_params(url.rstrip(").,")):
                    dirty.append(f"{md.relative_to(DOCS)}:{n}: {url}")
    assert dirty == []


def test_no_built_page_links_a_tracking_url(site_dir: Path) -> None:
    dirty = []
    for html in site_dir.rglob("*.html"):
        parser = _Hrefs()
        parser.feed(html.read_text(encoding="utf-8"))
        dirty += [(html.name, h) for h in parser.hrefs if tracking_params(h)]
    assert dirty == []


def test_titles_are_readable() -> None:
    text = "\n".join(
        p.read_text(encoding="utf-8")
        for p in DOCS.rglob("*.md")
        if p.name != "writing-notes.md"  # documents the suffixes to remove
    )
    assert "的博客-CSDN博客" not in text
    assert "(zhihu.com)" not in text
