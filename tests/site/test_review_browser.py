"""The 复习 page: the due list in the static build, a review in a real browser under
``mkdocs serve`` (Chromium via Playwright), and the endpoint's protections."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from dlnotes.kb.notes import KnowledgeBase
from dlnotes.kb.review import state_of
from dlnotes.site.serve import API_PATH
from tests.support.sites import Served, build_site, make_site


@pytest.fixture(scope="module")
def review_served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("review")
    make_site(root)
    server = Served(root, ready="/review/")
    yield server
    server.stop()


def _line(root: Path, qid: str) -> str:
    text = (root / "docs/cnn/sharing.md").read_text(encoding="utf-8")
    return next(line for line in text.split("\n") if f"#{qid}" in line)


def test_the_static_page_lists_the_due_cards(tmp_path: Path) -> None:
    make_site(tmp_path)
    site = tmp_path / "site"
    proc = build_site(tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    html = (site / "review/index.html").read_text(encoding="utf-8")
    assert "到期的卡片（1）" in html
    assert "为什么一个卷积核对应一个特征图" in html and "Q-cnn-02" in html
    text = re.sub(r"<[^>]+>", "", html)
    assert "dlnotes review --due" in text  # the CLI command
    assert "dlnotes-config" not in html and "review.js" not in html  # no controls
    assert 'href="../cnn/sharing/#q-cnn-02"' in html


def test_the_review_actions_need_the_login(review_served: Served) -> None:
    before = _line(review_served.root, "Q-cnn-02")
    body = json.dumps({"action": "review-grade", "id": "Q-cnn-02", "grade": "good"})
    req = urllib.request.Request(
        review_served.url + API_PATH,
        data=body.encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Origin": review_served.url,
            "X-Dlnotes-Token": "guess",
        },
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=10)
    assert err.value.code == 403
    assert _line(review_served.root, "Q-cnn-02") == before


@pytest.mark.browser
def test_review_a_card_on_the_page(browser, review_served: Served) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(review_served.url + "/review/")
    assert page.locator("#dl-review .dl-btn").count() == 0  # not logged in: no UI
    review_served.login(page)
    page.goto(review_served.url + "/review/")
    box = page.locator("#dl-review")
    box.locator(".dl-review-question").wait_for(timeout=20_000)
    assert "为什么一个卷积核对应一个特征图" in box.inner_text()
    assert box.locator(".dl-review-answer").count() == 0  # the answer is hidden
    page.keyboard.press(" ")  # reveal, as in the terminal
    answer = box.locator(".dl-review-answer")
    answer.wait_for()
    assert "卷积核在每个位置做一次内积" in answer.inner_text()
    page.screenshot(path=str(review_served.root / "review.png"))
    box.get_by_role("button", name="良好（3）").click()
    page.locator("[data-dl-graded='Q-cnn-02']").wait_for(timeout=20_000)
    deadline = time.monotonic() + 20
    while "<!--review" not in _line(review_served.root, "Q-cnn-02"):
        assert time.monotonic() < deadline, "the grade never reached the note"
        time.sleep(0.1)
    q = next(
        q
        for q in KnowledgeBase.scan(review_served.root / "docs").questions
        if q.id == "Q-cnn-02"
    )
    state = state_of(q)
    assert state is not None and [g for _, g in state.log] == [3]
    assert "下次" in page.locator(".dl-review-status").inner_text()
    # after the rebuild the page has nothing left to review
    page.wait_for_function(
        "document.querySelector('#dl-review')?.innerText.includes('没有到期')",
        timeout=30_000,
    )
    assert errors == []


def test_the_review_page_is_not_in_the_search_index(tmp_path: Path) -> None:
    make_site(tmp_path)
    config = tmp_path / "mkdocs.yml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("plugins:\n", "plugins:\n  - search\n"), "utf-8")
    site = tmp_path / "site"
    proc = build_site(tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    index = json.loads((site / "search/search_index.json").read_text(encoding="utf-8"))
    locations = {d["location"].split("#")[0] for d in index["docs"]}
    assert "review/" not in locations and "cnn/sharing/" in locations
