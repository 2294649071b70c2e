"""The kernel runner: real ipykernel processes, real pages, and ``dlnotes run``."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from dlnotes.runner.blocks import Block, page_blocks
from dlnotes.runner.kernel import (
    DIED,
    ERROR,
    EVENT_COST,
    INTERRUPTED,
    OK,
    TIMEOUT,
    Event,
    Kernel,
    png_size,
    run_page,
)
from tests.support import DOCS, ROOT

PAGE = """\
# 运行

```python
import sys
counter = 1
print("first block", counter)
print("to stderr", file=sys.stderr)
```

中间的文字。

```python
counter += 1
counter * 10
```

```python
import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(2, 1.5), dpi=100)
ax.plot([0, 1], [1, 0])
print("cwd is the project:", __import__("os").path.isfile("mkdocs.yml"))
```

```python
raise ValueError(f"bad value {counter}")
```

```python
print("never reached")
```
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "docs").mkdir()
    (tmp_path / "mkdocs.yml").write_text("site_name: t\n", encoding="utf-8")
    (tmp_path / "docs/run.md").write_text(PAGE, encoding="utf-8")
    (tmp_path / "docs/slow.md").write_text(
        "# 慢\n\n```python\nimport time\nprint('start', flush=True)\n"
        "time.sleep(30)\n```\n",
        encoding="utf-8",
    )
    return tmp_path


def iter_text(events: list[Event]) -> Iterator[str]:
    """The printable text of some events (streams, results, tracebacks)."""
    for e in events:
        if e["type"] == "error":
            yield e["traceback"]
        elif "text" in e and e["type"] in ("stream", "result", "display"):
            yield e["text"]


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    with Kernel(ROOT) as k:
        yield k


def collect(k: Kernel, code: str, **kw: object) -> tuple[str, list[Event]]:
    events: list[Event] = []
    status = k.execute(code, events.append, **kw)  # type: ignore[arg-type]
    return status, events


def test_a_page_runs_in_order_in_one_kernel_and_stops_at_the_error(
    project: Path,
) -> None:
    blocks = page_blocks(project / "docs", "run.md")
    started: list[int] = []
    results = run_page(blocks, project, on_start=lambda b: started.append(b.index))
    assert started == [1, 2, 3, 4]  # block 5 never ran
    assert [r.status for r in results] == [OK, OK, OK, ERROR]
    first = results[0].events
    assert {"type": "stream", "name": "stdout", "text": "first block 1\n"} in first
    assert {"type": "stream", "name": "stderr", "text": "to stderr\n"} in first
    # state carries over: the value of the last expression of block 2
    assert results[1].events == [{"type": "result", "text": "20"}]
    figure = [e for e in results[2].events if "png" in e]
    assert len(figure) == 1
    import io

    import matplotlib.image

    pixels = matplotlib.image.imread(io.BytesIO(base64.b64decode(figure[0]["png"])))
    height, width = pixels.shape[:2]
    assert png_size(figure[0]["png"]) == (width, height)
    assert 150 <= width <= 260 and 100 <= height <= 200  # 2 x 1.5 in at 100 dpi
    assert "cwd is the project: True" in "".join(iter_text(results[2].events))
    error = results[3].error
    assert error is not None
    assert (error["ename"], error["evalue"]) == ("ValueError", "bad value 2")
    assert (
        "\x1b[" not in error["traceback"] and "raise ValueError" in error["traceback"]
    )


def test_a_block_past_the_time_limit_is_interrupted(project: Path) -> None:
    blocks = page_blocks(project / "docs", "slow.md")
    results = run_page(blocks, project, timeout=1.5)
    assert [r.status for r in results] == [TIMEOUT]
    r = results[0]
    assert r.seconds < 10
    text = "".join(iter_text(r.events))
    assert "start" in text and "KeyboardInterrupt" in text
    assert {"type": "info", "text": "超过时间限制 1.5 s，已中断"} in r.events


def test_interrupt_by_request_and_the_kernel_keeps_its_state(kernel: Kernel) -> None:
    assert collect(kernel, "kept = 'still here'")[0] == OK
    calls = iter(range(1000))
    status, events = collect(
        kernel,
        "import time\nwhile True:\n    time.sleep(0.05)\n",
        should_stop=lambda: next(calls) > 10,
    )
    assert status == INTERRUPTED
    assert any(e.get("ename") == "KeyboardInterrupt" for e in events)
    assert collect(kernel, "kept")[1] == [{"type": "result", "text": "'still here'"}]


def test_a_dead_kernel_is_reported_and_replaced(kernel: Kernel) -> None:
    old = kernel.pid
    status, events = collect(kernel, "import os\nos._exit(3)")
    assert status == DIED
    assert events[-1]["ename"] == "KernelDied"
    assert kernel.pid != old and kernel.is_alive()
    assert collect(kernel, "print(6 * 7)")[1][0]["text"] == "42\n"


def test_clear_output_and_a_runaway_print_loop(
    kernel: Kernel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("dlnotes.runner.kernel.MAX_OUTPUT", 2_000_000)
    status, events = collect(
        kernel,
        "from IPython.display import clear_output\nprint('a')\nclear_output()\n"
        "print('b')",
    )
    kinds = [e["type"] for e in events]
    assert status == OK and kinds == ["stream", "clear", "stream"]
    status, events = collect(kernel, "for i in range(600_000):\n    print(i)\n")
    assert status == OK
    assert sum(len(e.get("text", "")) for e in events) <= 2_000_000
    assert {"type": "info", "text": "输出太长，后面的输出已省略"} in events


TOO_LONG = {"type": "info", "text": "输出太长，后面的输出已省略"}


def test_images_and_clear_output_count_against_the_output_limit(
    kernel: Kernel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("dlnotes.runner.kernel.MAX_OUTPUT", 300_000)
    # three 120 kB images: the third is over the limit and is not kept
    status, events = collect(
        kernel,
        "from IPython.display import display\n"
        "big = 'iVBORw0KGgo' + 'A' * 120_000\n"
        "for i in range(3):\n"
        "    display({'image/png': big}, raw=True)\n"
        "print('after')\n",
    )
    assert status == OK
    assert sum(1 for e in events if "png" in e) == 2
    assert TOO_LONG in events
    assert sum(len(e.get("png", "")) for e in events) <= 300_000
    # a clear_output() loop: each clear costs, so the events stop at the limit
    status, events = collect(
        kernel,
        "from IPython.display import clear_output\n"
        "for i in range(20_000):\n    clear_output()\n",
    )
    assert status == OK and TOO_LONG in events
    assert sum(1 for e in events if e["type"] == "clear") <= 300_000 // EVENT_COST


def test_shutdown_leaves_no_process() -> None:
    k = Kernel(ROOT)
    k.start()
    pid = k.pid
    assert pid is not None and psutil.pid_exists(pid)
    k.shutdown()
    assert not _alive(pid)
    assert not k.started


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_an_embedded_section_of_a_real_page_runs_with_its_imports() -> None:
    blocks = page_blocks(DOCS, "cnn/pooling.md", ROOT)
    section = next(b for b in blocks.runnable if b.sections)
    with Kernel(ROOT) as k:
        events: list[Event] = []
        from dlnotes.runner.kernel import run_block

        assert run_block(k, section, events.append) == OK
        probe = Block("cnn/pooling.md", 99, 1, "print(callable(max_pool2d_forward))\n")
        assert run_block(k, probe, events.append) == OK
    assert events[-1]["text"] == "True\n"


# ----------------------------------------------------------------- dlnotes run


def dlnotes(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    return subprocess.run(
        [sys.executable, "-m", "dlnotes", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_runs_a_real_page() -> None:
    out = dlnotes("run", "docs/cnn/pooling.md", cwd=ROOT)
    assert out.returncode == 0, out.stderr
    blocks = page_blocks(DOCS, "cnn/pooling.md", ROOT).runnable
    for b in blocks:  # every block is announced with its file and line
        assert f"[{b.index}] docs/cnn/pooling.md:{b.line}" in out.stdout
    assert f"ok: {len(blocks)} blocks of docs/cnn/pooling.md" in out.stdout


def test_cli_names_the_failing_block_and_saves_figures(
    project: Path, tmp_path: Path
) -> None:
    figures = tmp_path / "figs"
    out = dlnotes("run", "run.md", "--figures", str(figures), cwd=project)
    assert out.returncode == 1
    assert "first block 1" in out.stdout and "to stderr" in out.stderr
    assert "Out: 20" in out.stdout
    assert "never reached" not in out.stdout
    assert out.stderr.strip().endswith(
        "dlnotes run: block 4 (docs/run.md:24) raised ValueError: bad value 2"
    )
    saved = sorted(figures.iterdir())
    assert [p.name for p in saved] == ["run-block3-1.png"]
    assert saved[0].read_bytes()[:4] == b"\x89PNG"


def test_cli_list_timeout_and_bad_input(project: Path) -> None:
    listed = dlnotes("run", "http://127.0.0.1:8000/run/", "--list", cwd=project)
    assert listed.returncode == 0
    assert listed.stdout.splitlines()[:2] == [
        "[1] docs/run.md:3  example",
        "      import sys",
    ]
    slow = dlnotes("run", "slow.md", "--timeout", "1", cwd=project)
    assert slow.returncode == 1
    assert "block 1 (docs/slow.md:3) ran past the 1 s time limit" in slow.stderr
    missing = dlnotes("run", "nothing.md", cwd=project)
    assert missing.returncode == 2
    assert missing.stderr.startswith("dlnotes: error: no page 'nothing.md'")
    bad = dlnotes("run", "run.md", "--timeout", "0", cwd=project)
    assert bad.returncode == 2 and "--timeout must be positive" in bad.stderr
