"""Reading comfort in Chromium at phone width, light and dark (screenshots kept).

The screenshots land in ``.cache/screenshots/`` (ignored by git) so a person can look
at what the assertions check.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from tests.support import ROOT

pytestmark = pytest.mark.browser

SHOTS = ROOT / ".cache/screenshots"
WIDTH = 390


@pytest.fixture(params=["light", "dark"])
def phone(request: pytest.FixtureRequest, browser: Any) -> Iterator[Any]:
    context = browser.new_context(
        viewport={"width": WIDTH, "height": 844},
        color_scheme=request.param,
        device_scale_factor=1,
    )
    page = context.new_page()
    page.scheme = request.param
    yield page
    context.close()


def _open(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")


def _shot(page: Any, name: str, **kwargs: Any) -> bytes:
    SHOTS.mkdir(parents=True, exist_ok=True)
    data: bytes = page.screenshot(**kwargs)
    (SHOTS / f"{name}-{page.scheme}.png").write_bytes(data)
    return data


def _visible_images(page: Any, selector: str) -> list[str]:
    return page.locator(selector).evaluate_all(
        "els => els.filter(e => e.offsetWidth > 0).map(e => e.getAttribute('src'))"
    )


def test_figures_follow_the_colour_scheme(phone: Any, base_url: str) -> None:
    _open(phone, base_url + "/cnn/feature-maps/")
    scheme = phone.evaluate("() => document.body.getAttribute('data-md-color-scheme')")
    assert scheme == ("slate" if phone.scheme == "dark" else "default")
    wanted = "#only-dark" if phone.scheme == "dark" else "#only-light"
    # the package's figures and the figure a block of the page drew at build time
    for selector in ("img[src*='assets/figures/']", ".dl-static-output img"):
        shown = _visible_images(phone, selector)
        assert shown, selector
        assert all(src.endswith(wanted) for src in shown), shown
    figure = phone.locator(f'.dl-static-output img[src$="{wanted}"]').first
    figure.scroll_into_view_if_needed()
    phone.wait_for_function(
        "i => i.complete && i.naturalWidth > 0", arg=figure.element_handle()
    )
    box = figure.bounding_box()
    assert box and box["width"] <= WIDTH  # scaled down to the phone's width
    _shot(phone, "feature-maps-figure", clip=box)
    assert phone.evaluate("() => document.scrollingElement.scrollWidth") <= WIDTH


def test_embedded_code_folds_and_long_lines_scroll(phone: Any, base_url: str) -> None:
    _open(phone, base_url + "/resnet/")
    folds = phone.locator("details.dl-code")
    assert folds.count() >= 5
    assert folds.evaluate_all("els => els.every(e => !e.open)")
    summary = folds.first.locator("summary").inner_text()
    assert "dlnotes/models/resnet.py" in summary and "行" in summary
    height = phone.evaluate("() => document.scrollingElement.scrollHeight")
    _shot(phone, "resnet-top")
    # nothing pushes the page sideways: long code lines scroll inside their block
    assert phone.evaluate("() => document.scrollingElement.scrollWidth") <= WIDTH
    wide = phone.locator("pre > code").evaluate_all(
        """els => els.filter(e => e.scrollWidth > e.clientWidth + 1)
            .map(e => getComputedStyle(e).overflowX)"""
    )
    assert wide and all(v in ("auto", "scroll") for v in wide)
    folds.first.locator("summary").click()
    assert folds.first.evaluate("e => e.open")
    assert phone.evaluate("() => document.scrollingElement.scrollHeight") > height
    record = SHOTS / "resnet-height.txt"
    SHOTS.mkdir(parents=True, exist_ok=True)
    record.write_text(f"{phone.scheme}: {height}px at {WIDTH}px\n", encoding="utf-8")


def test_the_resolved_mark_is_a_colour_emoji(phone: Any, base_url: str) -> None:
    from PIL import Image

    _open(phone, base_url + "/math/probability/")
    box = phone.evaluate(
        """() => {
            const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
            for (let n = walk.nextNode(); n; n = walk.nextNode()) {
                const at = n.textContent.indexOf("✅");
                if (at < 0) continue;
                n.parentElement.scrollIntoView({block: "center"});
                const range = document.createRange();
                range.setStart(n, at);
                range.setEnd(n, at + 1);
                const r = range.getBoundingClientRect();
                return {x: r.x, y: r.y, width: r.width, height: r.height};
            }
            return null;
        }"""
    )
    assert box and box["width"] > 4
    data = _shot(phone, "resolved-mark", clip=box)
    rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    # Noto Color Emoji draws a green square; a missing glyph is a grey outline
    green = (g > 90) & (g > r + 20) & (g > b + 40)
    assert green.mean() > 0.3
