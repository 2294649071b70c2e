"""Under ``mkdocs serve`` a page's code runs in the background: the page is served
at once with a "running" note, then rebuilt with the real outputs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from dlnotes.site.outputs import RUNNING
from tests.site.test_outputs import _site
from tests.support.sites import Served, fetch_text

pytestmark = pytest.mark.slow  # a real mkdocs serve and Jupyter kernels

SLOW = """\
# 慢的代码

```python
# 第 {a} 版
import json
import time

time.sleep({sleep})
print("答案", {a} * 7)
```
"""


def _wait(url: str, text: str, timeout: float = 90) -> str:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        page = fetch_text(url)
        if text in page:
            return page
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never served at {url}:\n{fetch_text(url)[-2000:]}")


def test_outputs_come_after_the_page_and_follow_code_edits(tmp_path: Path) -> None:
    root = _site(tmp_path, SLOW.format(sleep=4, a=6))
    started = time.monotonic()
    server = Served(root, ready="/code/", dirty=True, timeout=120)
    try:
        # served before the code finished (it sleeps 4 s): a note, no output yet
        first = fetch_text(server.url + "/code/")
        assert time.monotonic() - started < 60
        assert "正在后台运行" in RUNNING and "正在后台运行" in first
        assert "答案 42" not in first
        page = _wait(server.url + "/code/", "答案 42")
        assert "正在后台运行" not in page
        # the code changes: the new code at once, its output when it has run
        (root / "docs/code.md").write_text(SLOW.format(sleep=3, a=8), "utf-8")
        page = _wait(server.url + "/code/", "# 第 8 版")
        assert "正在后台运行" in page and "答案 42" not in page
        page = _wait(server.url + "/code/", "答案 56")
        assert "正在后台运行" not in page
        # served from the cache now: a restart shows the outputs in the first build
    finally:
        server.stop()
    server = Served(root, ready="/code/", dirty=True, timeout=120)
    try:
        assert "答案 56" in fetch_text(server.url + "/code/")
    finally:
        server.stop()
    log = server.log.read_text("utf-8")
    assert "0 running in the background" in log


LAB = """\
# %% [markdown]
# # 慢的实验

# %%
import json
import time

time.sleep(4)
print("实验结果", {a} * 7)
"""

JUPYTER = """\
  - mkdocs-jupyter:
      include: ["labs/*.py"]
      execute: true
      allow_errors: false
      include_source: true
      kernel_name: python3
      cache: true
      cache_dir: .cache/mkdocs-jupyter
      ignore: ["*.md"]
"""


def _lab_site(tmp_path: Path, name: str, lab: str) -> Path:
    """A site with mkdocs-jupyter (configured as the project's) and one lab."""
    root = _site(tmp_path, "# 代码\n")
    config = root / "mkdocs.yml"
    config.write_text(
        config.read_text("utf-8").replace("plugins:\n", "plugins:\n" + JUPYTER),
        "utf-8",
    )
    (root / "docs/labs").mkdir()
    (root / "docs/labs" / name).write_text(lab, "utf-8")
    return root


def test_a_lab_runs_in_the_background_and_its_cache_serves_the_next_start(
    tmp_path: Path,
) -> None:
    root = _lab_site(tmp_path, "slow.py", LAB.format(a=6))
    server = Served(root, ready="/labs/slow/", dirty=True, timeout=120)
    try:
        first = fetch_text(server.url + "/labs/slow/")
        assert "正在后台运行" in first and "实验结果 42" not in first
        assert "time.sleep" in first  # the code is shown meanwhile
        page = _wait(server.url + "/labs/slow/", "实验结果 42")
        assert "正在后台运行" not in page
    finally:
        server.stop()
    log = server.log.read_text("utf-8")
    assert "running over TCP" not in log
    server = Served(root, ready="/labs/slow/", dirty=True, timeout=120)
    try:
        assert "实验结果 42" in fetch_text(server.url + "/labs/slow/")
    finally:
        server.stop()


def test_a_failing_lab_is_reported_once_not_run_again_and_again(
    tmp_path: Path,
) -> None:
    root = _lab_site(tmp_path, "bad.py", "# %%\nraise ValueError('实验写错了')\n")
    server = Served(root, ready="/labs/bad/", dirty=True, timeout=120)
    try:
        status = _wait(server.url + "/__dlnotes/status.json", "the lab failed to run")
        assert "实验写错了" in json.loads(status)["problems"][0]["message"]
        time.sleep(3)  # no loop of rebuild -> run again -> fail
    finally:
        server.stop()
    log = server.log.read_text("utf-8")
    assert log.count("docs/labs/bad.py runs in the background") == 1
