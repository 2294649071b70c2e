"""A real browser under ``mkdocs serve --dirty`` (as ``make serve`` runs it): the
backlinks, the knowledge graph, the warning banner and a note dropped into docs/.

Marked ``browser`` (needs Debian's chromium and Playwright).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pytest

from tests.support.sites import Served, fetch_text, make_linked_site

pytestmark = pytest.mark.browser


def _wait_for(predicate: Callable[[], object], timeout: float = 60) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError("timed out")


@pytest.fixture(scope="module")
def linked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("linked-served")
    make_linked_site(root)
    server = Served(root, dirty=True)
    yield server
    server.stop()


def test_backlinks_and_local_graph(browser, linked: Served) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(linked.url + "/cnn/sharing/")
    backlinks = page.locator(".dl-backlinks")
    assert backlinks.locator("a.dl-backlinks__page", has_text="池化").count() == 1
    assert "池化和参数共享一样减少参数。" in backlinks.inner_text()
    local = page.locator(".dl-graph--local")
    page.wait_for_selector(".dl-graph--local[data-ready=true]", timeout=20_000)
    ids = local.evaluate("b => b.dlGraph.nodes().map(n => n.id()).sort()")
    assert ids == ["cnn/pooling.md", "cnn/sharing.md", "index.md"]
    assert errors == []


def test_graph_page_nodes_and_click_opens_the_note(browser, linked: Served) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(linked.url + "/graph/")
    page.wait_for_selector("#dl-graph[data-ready=true]", timeout=20_000)
    box = page.locator("#dl-graph")
    nodes = box.evaluate(
        "b => b.dlGraph.nodes().map(n => [n.id(), n.data('open')]).sort()"
    )
    assert ["cnn/pooling.md", 1] in nodes and ["cnn/sharing.md", 2] in nodes
    assert "graph.md" not in [n[0] for n in nodes]
    # hover highlights the neighbours: everything else fades
    pos = box.evaluate(
        "b => { const p = b.dlGraph.$id('cnn/pooling.md').renderedPosition();"
        " const r = b.getBoundingClientRect(); return [r.x + p.x, r.y + p.y]; }"
    )
    page.mouse.move(pos[0], pos[1])
    page.wait_for_function(
        "document.querySelector('#dl-graph').dlGraph.$('.dl-faded').length > 0"
    )
    faded = box.evaluate("b => b.dlGraph.nodes('.dl-faded').map(n => n.id()).sort()")
    assert "cnn/sharing.md" not in faded and "cnn/pooling.md" not in faded
    page.mouse.click(pos[0], pos[1])
    page.wait_for_url("**/cnn/pooling/", timeout=10_000)
    assert page.locator("h1").inner_text().startswith("池化")
    # offline: the graph library and data come from the site itself
    assert all(u.startswith(linked.url) for u in requests)
    assert any(
        u.endswith("/assets/vendor/cytoscape/cytoscape.min.js") for u in requests
    )


def test_a_broken_link_shows_a_banner_until_fixed(browser, linked: Served) -> None:  # type: ignore[no-untyped-def]
    note = linked.root / "docs/cnn/pooling.md"
    good = note.read_text(encoding="utf-8")
    page = browser.new_page()
    page.goto(linked.url + "/cnn/pooling/")
    try:
        note.write_text(good + "\n见[坏链接](poling.md)。\n", encoding="utf-8")
        banner = page.locator("#dl-live-banner")
        banner.wait_for(timeout=30_000)
        text = banner.inner_text()
        line = len(good.splitlines()) + 2
        assert f"docs/cnn/pooling.md:{line}" in text and "poling.md" in text
        # the server kept serving: the new text is there, and so is the banner
        assert "坏链接" in fetch_text(linked.url + "/cnn/pooling/")
        status = json.loads(fetch_text(linked.url + "/__dlnotes/status.json"))
        assert status["problems"][0]["line"] == line
        log = linked.log.read_text(encoding="utf-8", errors="replace")
        assert f"docs/cnn/pooling.md:{line}: Doc file 'cnn/pooling.md'" in log
    finally:
        note.write_text(good, encoding="utf-8")
    page.locator("#dl-live-banner").wait_for(state="detached", timeout=30_000)
    assert linked.proc.poll() is None


def test_a_dropped_note_is_in_nav_graph_and_backlinks(linked: Served) -> None:
    docs = linked.root / "docs"
    (docs / "inbox").mkdir(exist_ok=True)
    (docs / "inbox/dropped.md").write_text(
        "# 拖进来的笔记\n\n它讲[参数共享](../cnn/sharing.md)。\n", encoding="utf-8"
    )

    def everywhere() -> bool:
        nav = fetch_text(linked.url + "/cnn/pooling/")
        backlinks = fetch_text(linked.url + "/cnn/sharing/")
        graph = fetch_text(linked.url + "/assets/graph.json")
        return (
            "拖进来的笔记" in nav
            and "它讲<strong>参数共享</strong>。" in backlinks
            and '"inbox/dropped.md"' in graph
        )

    _wait_for(everywhere, timeout=60)
    assert "拖进来的笔记" in fetch_text(linked.url + "/inbox/dropped/")
