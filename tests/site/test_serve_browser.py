"""A real browser under ``mkdocs serve``: click resolve, see the note and page change.

Marked ``browser`` (needs Debian's chromium and Playwright).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dlnotes.kb.notes import KnowledgeBase
from tests.support.sites import Served, make_site

pytestmark = pytest.mark.browser


def _wait_for(predicate: object, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def _question(served: Served, qid: str) -> object:
    kb = KnowledgeBase.scan(served.root / "docs")
    return next(q for q in kb.questions if q.id == qid)


def test_resolve_and_mark_read_from_the_page(browser, served: Served) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    # before logging in the page shows the commands, not buttons
    page.goto(served.url + "/cnn/sharing/")
    assert page.locator(".dl-btn").count() == 0
    assert page.locator('.dl-ctl[data-dl-id="Q-cnn-01"] .dl-cli').is_visible()
    served.login(page)  # the link mkdocs serve printed: sets the cookie, redirects
    page.goto(served.url + "/cnn/sharing/")
    ctl = page.locator('.dl-ctl[data-dl-id="Q-cnn-01"]')
    assert ctl.get_attribute("data-dl-status") == "open"

    ctl.get_by_role("button", name="标记为已解决").click()
    ctl.locator("textarea").fill("共享的是同一个卷积核的权重和偏置。")
    ctl.get_by_role("button", name="保存").click()

    note = served.root / "docs/cnn/sharing.md"
    _wait_for(lambda: "#Q-cnn-01 ✅" in note.read_text(encoding="utf-8"))
    q = _question(served, "Q-cnn-01")
    assert q.status == "resolved"  # type: ignore[attr-defined]
    assert q.answer == "共享的是同一个卷积核的权重和偏置。"  # type: ignore[attr-defined]

    # live reload rebuilds and reloads the page, which now shows the new state
    page.wait_for_function(
        "document.querySelector('.dl-ctl[data-dl-id=\"Q-cnn-01\"]')"
        "?.getAttribute('data-dl-status') === 'resolved'",
        timeout=30_000,
    )
    item = page.locator("li", has=page.locator("#q-cnn-01"))
    assert "已解决" in item.locator(".dl-badge").inner_text()
    assert "共享的是同一个卷积核的权重和偏置。" in item.inner_text()
    assert (
        page.locator('.dl-ctl[data-dl-id="Q-cnn-01"] button').inner_text() == "重新打开"
    )

    # a resource: mark read
    resource = page.locator('.dl-ctl[data-dl-kind="resource"][data-dl-status="unread"]')
    rid = resource.get_attribute("data-dl-id")
    resource.get_by_role("button", name="标记已读").click()
    _wait_for(lambda: "- [/] [一张图理解" in note.read_text(encoding="utf-8"))
    page.wait_for_function(
        f"document.querySelector('.dl-ctl[data-dl-id=\"{rid}\"]')"
        "?.getAttribute('data-dl-status') === 'read'",
        timeout=30_000,
    )
    assert errors == []
    page.close()


def test_the_static_build_shows_the_command_instead(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    make_site(tmp_path)
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q"],
        cwd=tmp_path,
        env=dict(os.environ, NO_MKDOCS_2_WARNING="1"),
        check=True,
        capture_output=True,
    )
    page = browser.new_page()
    page.goto((tmp_path / "site/cnn/sharing/index.html").as_uri())
    cli = page.locator('.dl-ctl[data-dl-id="Q-cnn-01"] .dl-cli')
    assert cli.inner_text() == "dlnotes resolve Q-cnn-01"
    assert cli.is_visible()
    assert page.locator(".dl-btn").count() == 0
    page.close()


RUN_PAGE = """\
# 运行

```python
answer = 6 * 7
print("answer is", answer)
```
"""


def test_the_run_button_of_a_small_site(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The page scripts (static/api.js, run.js) drive a run after logging in."""
    make_site(tmp_path)
    (tmp_path / "docs/run.md").write_text(RUN_PAGE, encoding="utf-8")
    server = Served(tmp_path, ready="/run/")
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(server.url + "/run/")
        assert page.locator(".dl-runner").count() == 0  # not logged in: no toolbar
        server.login(page)
        page.goto(server.url + "/run/")
        panel = page.locator('.dl-runner[data-dl-block="1"]')
        panel.get_by_role("button", name="▶ 运行").click()
        page.wait_for_function(
            "document.querySelector('.dl-runner[data-dl-block=\"1\"]')"
            ".getAttribute('data-dl-status') === 'ok'",
            timeout=60_000,
        )
        assert "answer is 42" in panel.locator(".dl-output").inner_text()
        assert errors == []
    finally:
        page.close()
        server.stop()
