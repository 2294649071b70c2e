"""Run buttons in a real browser under ``mkdocs serve`` of the real site.

Chromium (Playwright) on the CNN and ResNet pages: click Run, see the output stream in;
edit a block, run it again, see the new output and a matplotlib figure; reset; use a
name an earlier block defined (one kernel per page); interrupt a long run. When the
server stops, no kernel process is left. Marked ``browser``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psutil
import pytest

from tests.support import ROOT
from tests.support.sites import Served

pytestmark = pytest.mark.browser


def kernel_pids(server: Served) -> set[int]:
    """The ipykernel processes started by this ``mkdocs serve``."""
    try:
        children = psutil.Process(server.proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return set()
    return {
        p.pid
        for p in children
        if "ipykernel_launcher" in " ".join(_cmdline(p))
        and "dlnotes-kernel-" in " ".join(_cmdline(p))
    }


def _cmdline(p: psutil.Process) -> list[str]:
    try:
        return p.cmdline()
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
        return []


@pytest.fixture(scope="module")
def site() -> Iterator[Served]:
    server = Served(ROOT, ready="/cnn/convolution/", timeout=300)
    yield server
    server.stop()


@pytest.fixture
def page(browser: Any, site: Served) -> Iterator[Any]:
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_default_timeout(60_000)
    site.login(page)
    yield page
    page.close()
    assert errors == []


def runner(page: Any, index: int) -> Any:
    return page.locator(f'.dl-runner[data-dl-block="{index}"]')


def run_and_wait(page: Any, index: int, status: str = "ok") -> Any:
    panel = runner(page, index)
    panel.get_by_role("button", name="▶ 运行").click()
    page.wait_for_function(
        f"""document.querySelector('.dl-runner[data-dl-block="{index}"]')
            .getAttribute('data-dl-status') === {status!r}""",
        timeout=90_000,
    )
    return panel


def test_run_edit_rerun_and_plot_on_the_cnn_page(page: Any, site: Served) -> None:
    page.goto(site.url + "/cnn/convolution/")
    panels = page.locator(".dl-runner")
    assert panels.count() == 10  # every python block of the page has a toolbar
    # the output of the site build shows under block 2 until it runs live
    built = page.locator('.dl-static-output[data-dl-block="2"]')
    assert "partial results (3, 107, 160)" in built.inner_text()
    assert built.evaluate("e => e.previousElementSibling.matches('.dl-runner')")
    # block 2: an example that prints the shapes of a multichannel convolution
    panel = run_and_wait(page, 2)
    assert built.count() == 0  # replaced by the live output
    out = panel.locator(".dl-output").inner_text()
    assert "input (107, 160, 3) -> partial results (3, 107, 160)" in out
    assert "feature map == sum of the channel results + bias: True" in out
    assert "完成" in panel.locator(".dl-run-status").inner_text()

    # edit in place, run again: the edited code runs, the page's code is kept
    panel.get_by_role("button", name="编辑").click()
    editor = page.locator("textarea.dl-editor")
    assert "multichannel_feature_map" in editor.input_value()
    editor.fill(
        "import matplotlib.pyplot as plt\n"
        "fig, ax = plt.subplots(figsize=(3, 2))\n"
        "ax.imshow(fmap, cmap='gray')\n"
        "print('plotted', fmap.shape)\n"
    )
    panel = run_and_wait(page, 2)
    assert "plotted (107, 160)" in panel.locator(".dl-output").inner_text()
    img = panel.locator(".dl-output img.dl-figure")
    img.wait_for()
    assert img.evaluate(
        "i => i.complete && i.naturalWidth > 100 && i.naturalHeight > 50"
    )

    # reset brings the page's version back, and it runs again as shown
    panel.get_by_role("button", name="重置").click()
    assert page.locator("textarea.dl-editor").count() == 0
    panel = run_and_wait(page, 2)
    assert "partial results" in panel.locator(".dl-output").inner_text()
    assert panel.locator(".dl-output img").count() == 0


def test_an_embedded_section_runs_with_its_imports(page: Any, site: Served) -> None:
    page.goto(site.url + "/cnn/convolution/")
    # block 9 shows dlnotes/numpy/conv.py:conv2d-im2col; it defines the function
    panel = runner(page, 9)
    setup = panel.locator("details.dl-setup")
    assert "import numpy as np" in setup.text_content()
    run_and_wait(page, 9)
    panel.get_by_role("button", name="编辑").click()
    page.locator("textarea.dl-editor").press("Control+End")
    page.locator("textarea.dl-editor").type(
        "\nimport numpy as np\n"
        "y = conv2d_forward_im2col(np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3)))\n"
        "y[0, 0]\n"
    )
    run_and_wait(page, 9)
    result = panel.locator(".dl-output pre.dl-result").inner_text()
    assert "9." in result and "array" in result


def test_errors_state_and_interrupt_on_the_resnet_page(page: Any, site: Served) -> None:
    page.goto(site.url + "/resnet/")
    first = runner(page, 1)
    first.get_by_role("button", name="编辑").click()
    page.locator("textarea.dl-editor").fill("secret = 41\n1 / 0\n")
    run_and_wait(page, 1, "error")
    tb = first.locator(".dl-output pre.dl-traceback").inner_text()
    assert "ZeroDivisionError" in tb and "\x1b[" not in tb
    # the page's kernel kept the name an earlier run defined
    second = runner(page, 2)
    second.get_by_role("button", name="编辑").click()
    page.locator("textarea.dl-editor").nth(1).fill("print('secret + 1 =', secret + 1)")
    run_and_wait(page, 2)
    assert "secret + 1 = 42" in second.locator(".dl-output").inner_text()
    # a long run is interrupted from the page
    page.locator("textarea.dl-editor").nth(1).fill(
        "import time\nfor i in range(600):\n    time.sleep(0.1)\n"
    )
    second.get_by_role("button", name="▶ 运行").click()
    page.wait_for_function(
        "document.querySelector('.dl-runner[data-dl-block=\"2\"]')"
        ".getAttribute('data-dl-status') === 'queued'"
    )
    time.sleep(1.5)
    second.get_by_role("button", name="中断").click()
    page.wait_for_function(
        "document.querySelector('.dl-runner[data-dl-block=\"2\"]')"
        ".getAttribute('data-dl-status') === 'interrupted'",
        timeout=20_000,
    )
    assert "KeyboardInterrupt" in second.locator(".dl-output").inner_text()
    # restart: the name is gone
    second.get_by_role("button", name="重启内核").click()
    page.wait_for_function(
        "document.querySelector('.dl-runner[data-dl-block=\"2\"] .dl-run-status')"
        ".textContent.includes('内核已重启')"
    )
    page.locator("textarea.dl-editor").nth(1).fill("print(secret)")
    run_and_wait(page, 2, "error")
    assert "NameError" in second.locator(".dl-output").inner_text()


CNN_AND_RESNET = sorted(
    p.relative_to(ROOT / "docs").as_posix()
    for p in [*(ROOT / "docs/cnn").glob("*.md"), ROOT / "docs/resnet/index.md"]
)


# examples whose output is checked in detail: (page, marker in the code, printed)
PLOTS = {
    "cnn/feature-maps.md": ("kernel = SOBEL_Y", "kernel sum"),
    "resnet/index.md": ("cifar_plain(56)", "resnet-56: ||dL/dW||"),
}


@pytest.mark.parametrize("src", CNN_AND_RESNET)
def test_every_block_of_the_cnn_and_resnet_pages_runs_from_the_browser(
    page: Any, site: Served, src: str
) -> None:
    """Every block runs; the plotting examples show their text and one figure."""
    from dlnotes.runner.blocks import page_blocks

    blocks = page_blocks(ROOT / "docs", src, ROOT).runnable
    url = "/" + src.removesuffix(".md").removesuffix("index") + "/"
    page.goto(site.url + url.replace("//", "/"))
    page.locator(".dl-runner").first.wait_for()
    assert page.locator(".dl-runner").count() == len(blocks)
    page.get_by_role("button", name="重启内核").first.click()  # a fresh kernel
    page.wait_for_function(
        "document.querySelector('.dl-run-status').textContent.includes('内核已重启')"
    )
    for block in blocks:
        panel = run_and_wait(page, block.index)
        if not block.sections:  # every example shows something
            assert panel.locator(".dl-output").inner_text().strip(), block.location()
        marker, printed = PLOTS.get(src, ("\0", ""))
        if marker in block.code:
            assert printed in panel.locator(".dl-output").inner_text()
            img = panel.locator(".dl-output img.dl-figure")
            assert img.count() == 1
            img.wait_for()
            assert img.evaluate("i => i.complete && i.naturalWidth") > 300


def test_no_kernel_is_left_after_the_server_stops(site: Served) -> None:
    pids = kernel_pids(site)
    assert pids, "the tests above started page kernels"
    site.stop()
    deadline = time.monotonic() + 20
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = {p for p in alive if psutil.pid_exists(p) and _running(p)}
        time.sleep(0.2)
    assert alive == set()
    log = site.log.read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in log, log[-3000:]


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
