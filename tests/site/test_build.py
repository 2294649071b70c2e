"""The site builds strictly and every page is a real note."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.support import DOCS, ROOT


class _Text(HTMLParser):
    """Collects the visible text of the article and the images it references."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.chunks: list[str] = []
        self.images: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "article":
            self.depth += 1
        if tag == "img" and self.depth:
            src = dict(attrs).get("src")
            if src:
                self.images.append(src)

    def handle_endtag(self, tag: str) -> None:
        if tag == "article":
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.chunks.append(data)


def _nav_pages() -> list[str]:
    """Every page of the site: the notes on disk and the generated pages."""
    on_disk = sorted(
        p.relative_to(DOCS).as_posix()
        for p in DOCS.rglob("*.md")
        if "overrides" not in p.parts
    )
    return on_disk + sorted(GENERATED_PAGES)


def _html_for(site: Path, page: str) -> Path:
    stem = page[: -len(".md")]
    if stem == "index" or stem.endswith("/index"):
        return site / stem.removesuffix("index") / "index.html"
    return site / stem / "index.html"


def test_strict_build_has_no_warnings(site_build) -> None:
    assert site_build.returncode == 0, site_build.stderr[-4000:]
    warnings = [ln for ln in site_build.stderr.splitlines() if ln.startswith("WARNING")]
    assert warnings == []


# Pages the dlnotes plugin generates at build time (never on disk).
GENERATED_PAGES = {"progress.md"}


def test_the_sanitiser_changes_nothing_on_the_real_pages(site_build) -> None:
    """Every page passed the allow-list sanitiser and lost no tag or attribute.

    The plugin logs each removal (``... the sanitiser removed <tag attr>``); the real
    notes, the progress page and the lab notebooks must need none.
    """
    removals = [ln for ln in site_build.stderr.splitlines() if "sanitiser" in ln]
    assert site_build.returncode == 0
    assert removals == []


def test_every_docs_page_is_in_the_nav(site_dir: Path) -> None:
    """The folder nav (awesome-nav, .nav.yml) lists every note, none by hand."""
    html = (site_dir / "index.html").read_text(encoding="utf-8")
    links = set(re.findall(r'<a href="([^"]*)" class="md-nav__link', html))
    missing = []
    for page in _nav_pages():
        url = _html_for(Path("."), page).parent.as_posix()
        href = "." if url == "." else f"{url}/"
        if href not in links:
            missing.append(page)
    assert missing == []
    assert not {p for p in _nav_pages() if (DOCS / p).is_file()} & GENERATED_PAGES


# Pages that are no notes: the knowledge graph and the inbox's explanation.
NOT_NOTES = {"graph.md", "inbox/index.md", "tags.md"}  # generated indexes


def test_every_page_is_a_real_note(site_dir: Path) -> None:
    thin = []
    for page in _nav_pages():
        if page in NOT_NOTES:
            continue
        parser = _Text()
        parser.feed(_html_for(site_dir, page).read_text(encoding="utf-8"))
        text = re.sub(r"[\s\u200b]+", "", "".join(parser.chunks))
        if len(text) < 600 or re.search(r"TODO|being written|待补充内容", text):
            thin.append((page, len(text)))
    assert thin == [], f"pages that are stubs or too thin to study from: {thin}"


def test_no_page_references_a_missing_image(site_dir: Path) -> None:
    missing = []
    for page in _nav_pages():
        html = _html_for(site_dir, page)
        parser = _Text()
        parser.feed(html.read_text(encoding="utf-8"))
        for src in parser.images:
            assert not src.startswith(("http://", "https://", "//")), src
            target = (html.parent / src.split("#")[0].split("?")[0]).resolve()
            if not target.is_file():
                missing.append((page, src))
    assert missing == []


def test_sources_have_no_seed_image_paths() -> None:
    # Obsidian embeds (`![[image.png]]`) are site syntax now: the dlnotes-obsidian
    # plugin resolves them and the strict build fails on one that does not; what
    # must not appear are the seed notes' raw image paths (readme/...).
    bad = []
    for md in DOCS.rglob("*.md"):
        for n, line in enumerate(md.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"\]\((?:\.\./)*readme/", line):
                bad.append(f"{md.relative_to(ROOT)}:{n}")
    assert bad == []


def test_offline_assets_are_served_from_the_site(site_dir: Path) -> None:
    assert (
        site_dir / "assets/vendor/mathjax/tex-mml-chtml.js"
    ).stat().st_size > 100_000
    fonts = list(
        (site_dir / "assets/vendor/mathjax/output/chtml/fonts/woff-v2").glob("*.woff")
    )
    assert len(fonts) > 10
    assert (site_dir / "assets/vendor/mermaid/mermaid.min.js").stat().st_size > 500_000
    index = (site_dir / "index.html").read_text(encoding="utf-8")
    assert "fonts.googleapis.com" not in index
    assert "assets/vendor/mathjax/tex-mml-chtml.js" in index


@pytest.mark.parametrize("page", ["cnn/convolution.md", "resnet/index.md"])
def test_static_pages_mark_runnable_blocks_but_carry_no_run_controls(
    site_dir: Path, page: str
) -> None:
    from dlnotes.runner.blocks import page_blocks

    html = _html_for(site_dir, page).read_text(encoding="utf-8")
    runnable = page_blocks(ROOT / "docs", page, ROOT).runnable
    markers = re.findall(r'<span class="dl-run" data-dl-block="(\d+)"', html)
    assert [int(m) for m in markers] == [b.index for b in runnable]
    # each marker follows its code block (the hint shows the terminal command)
    # (embedded package code over 25 lines is folded: the marker follows </details>)
    after_code = re.findall(
        r'</code></pre></div>\s*(?:</details>\s*)?<p><span class="dl-run"', html
    )
    assert len(after_code) == len(markers)
    # no endpoint, token or Run script in the static site
    assert "dlnotes-config" not in html and "/__dlnotes__/" not in html
    assert "dl-runner" not in html
