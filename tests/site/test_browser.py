"""Real-browser smoke test: Debian's chromium driven by Playwright, fully offline."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


class Visit:
    """A page with every request and console message recorded."""

    def __init__(self, browser, base_url: str, path: str) -> None:  # type: ignore[no-untyped-def]
        self.base = base_url
        self.page = browser.new_page()
        self.requests: list[str] = []
        self.console: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on(
            "console",
            lambda m: (
                self.console.append(f"{m.type}: {m.text}")
                if m.type == "error"
                else None
            ),
        )
        self.page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))
        self.page.goto(f"{base_url}/{path}")
        self.page.wait_for_load_state("networkidle")

    def external(self) -> list[str]:
        return [
            u
            for u in self.requests
            if not u.startswith((self.base, "data:", "blob:", "about:"))
        ]


PAGES = [
    "",
    "cnn/arithmetic/",
    "cnn/convolution/",
    "cnn/parameter-sharing/",
    "resnet/",
    "bn/",
    "transfer/",
    "rnn/lstm/",
    "math/probability/",
    "nn/backprop/",
    "labs/degradation/",
    "progress/",
]


@pytest.mark.parametrize("path", PAGES)
def test_page_loads_offline_without_errors(browser, base_url: str, path: str) -> None:  # type: ignore[no-untyped-def]
    visit = Visit(browser, base_url, path)
    try:
        assert visit.external() == []
        assert visit.console == []
        assert visit.page.locator("article h1").count() == 1
    finally:
        visit.page.close()


@pytest.mark.parametrize(
    "path",
    [
        "cnn/arithmetic/",
        "cnn/initialization/",
        "math/notation/",
        "bn/",
        "nn/backprop/",
        "labs/degradation/",
    ],
)
def test_math_is_rendered_by_local_mathjax(browser, base_url: str, path: str) -> None:  # type: ignore[no-untyped-def]
    visit = Visit(browser, base_url, path)
    try:
        visit.page.wait_for_selector("mjx-container", timeout=15000)
        visit.page.wait_for_function("() => MathJax.startup.promise.then(() => true)")
        rendered = visit.page.evaluate(
            "() => [...document.querySelectorAll('mjx-container')]"
            ".map(e => e.textContent)"
        )
        assert len(rendered) >= 3
        # An undefined macro would be shown as its literal name (e.g. \boldsymbol).
        assert [t for t in rendered if "\\" in t] == []
        assert visit.page.locator("mjx-merror").count() == 0
        assert any("/assets/vendor/mathjax/" in u for u in visit.requests)
        assert visit.external() == []
    finally:
        visit.page.close()


def test_mermaid_diagrams_render_from_local_copy(browser, base_url: str) -> None:  # type: ignore[no-untyped-def]
    visit = Visit(browser, base_url, "cnn/")
    try:
        # Material renders each diagram into a closed shadow root; the host
        # element loses its source text and gains the rendered size.
        visit.page.wait_for_function(
            "() => document.querySelectorAll('div.mermaid').length > 0 && "
            "[...document.querySelectorAll('div.mermaid')]"
            ".every(d => d.offsetHeight > 40)",
            timeout=20000,
        )
        assert any("/assets/vendor/mermaid/mermaid.min.js" in u for u in visit.requests)
        assert visit.external() == []
        assert visit.console == []
    finally:
        visit.page.close()


def _search(browser, base_url: str, query: str) -> tuple[list[str], list[str]]:  # type: ignore[no-untyped-def]
    visit = Visit(browser, base_url, "")
    try:
        box = visit.page.locator("input.md-search__input")
        box.click()
        box.fill(query)
        box.press("End")  # Material listens to keyup
        visit.page.wait_for_selector(".md-search-result__item", timeout=15000)
        links = visit.page.locator(".md-search-result__item > a").evaluate_all(
            "els => els.map(e => e.getAttribute('href'))"
        )
        assert visit.external() == []
        return links, visit.console
    finally:
        visit.page.close()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("参数共享", "cnn/parameter-sharing/"),
        ("迁移学习", "transfer/"),
        ("ResNet", "resnet/"),
        ("networks", "/"),  # any page: English words are searchable too
        ("批量归一化", "bn/"),
        ("卷积核", "cnn/"),
    ],
)
def test_search_finds_chinese_and_english(
    browser, base_url: str, query: str, expected: str
) -> None:  # type: ignore[no-untyped-def]
    links, console = _search(browser, base_url, query)
    assert links, f"no result for {query!r}"
    assert any(expected in (link or "") for link in links[:5]), links[:5]
    assert console == []


def test_lab_page_shows_its_executed_plots(browser, base_url: str) -> None:  # type: ignore[no-untyped-def]
    visit = Visit(browser, base_url, "labs/degradation/")
    try:
        sizes = visit.page.evaluate(
            "() => [...document.querySelectorAll('.jp-OutputArea img')]"
            ".map(i => [i.naturalWidth, i.naturalHeight])"
        )
        assert sizes and all(w > 200 and h > 100 for w, h in sizes)
        assert visit.page.locator('h2[id=""], h3[id=""]').count() == 0
        # The notebook that produced the page can be downloaded and re-run.
        href = visit.page.locator("a.dl-nb-download").get_attribute("href")
        assert href and href.endswith("degradation.py")
        source = visit.page.request.get(f"{base_url}/labs/degradation/{href}")
        assert source.ok and "# %%" in source.text()
        assert visit.external() == [] and visit.console == []
    finally:
        visit.page.close()
