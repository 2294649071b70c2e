"""Run requests: one kernel per page, bad requests, the hand-over race, lifecycle.

The endpoint's refusal matrix (Host, Origin, cookie, token, body) is tested once, in
tests/site/test_serve.py; here requests go through it only to reach the pool.
"""

from __future__ import annotations

import json
import re
import signal
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from dlnotes.runner.pool import KernelPool, PageKernel
from dlnotes.site.run_ui import run_handlers
from dlnotes.site.serve import MAX_BODY, Endpoint
from tests.support.sites import Served, make_site
from tests.support.wsgi import SESSION, environ, passthrough, post_json

PAGE = """\
# 演示

```python
value = 6
print("value is", value)
```

```python
value * 7
```

```python
--8<-- "pkg/mod.py:method"
```
"""

MODULE = """\
class K:
    # --8<-- [start:method]
    def f(self):
        return 1
    # --8<-- [end:method]
"""


def write_pages(root: Path) -> None:
    (root / "docs/run").mkdir(parents=True, exist_ok=True)
    (root / "docs/run/demo.md").write_text(PAGE, encoding="utf-8")
    (root / "docs/run/other.md").write_text(PAGE, encoding="utf-8")
    (root / "pkg").mkdir(exist_ok=True)
    (root / "pkg/mod.py").write_text(MODULE, encoding="utf-8")


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[KernelPool]:
    write_pages(tmp_path)
    p = KernelPool(tmp_path, tmp_path / "docs", timeout=20, idle_timeout=600)
    yield p
    p.close()


@pytest.fixture
def endpoint(pool: KernelPool) -> Endpoint:
    return Endpoint(passthrough, SESSION, "127.0.0.1", run_handlers(pool))


RUN = {"action": "run", "page": "run/demo.md", "block": 1, "code": "print('hi')"}


def call(endpoint: Endpoint, body: Any) -> tuple[int, dict[str, Any]]:
    return endpoint.handle(environ(body))


def finish(endpoint: Endpoint, run_id: str, timeout: float = 60) -> dict[str, Any]:
    """Poll a run to its end; all its events, in order."""
    events: list[dict[str, Any]] = []
    since = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code, data = call(endpoint, {"action": "poll", "run": run_id, "since": since})
        assert code == 200, data
        events += data["events"]
        since = data["next"]
        if data["done"]:
            return {**data, "events": events}
    raise AssertionError("the run did not finish")


def run(endpoint: Endpoint, code: str, block: int = 1, page: str = "run/demo.md"):  # type: ignore[no-untyped-def]
    status, data = call(
        endpoint, {"action": "run", "page": page, "block": block, "code": code}
    )
    assert status == 200, data
    return finish(endpoint, data["run"])


def text(result: dict[str, Any]) -> str:
    return "".join(e.get("text", "") + e.get("traceback", "") for e in result["events"])


def test_oversized_code_is_refused(endpoint: Endpoint, pool: KernelPool) -> None:
    body = {**RUN, "code": "x = 1\n" * (MAX_BODY // 6 + 1)}
    assert call(endpoint, body)[0] == 413
    assert pool.kernels == {}


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({**RUN, "page": "run/nothing.md"}, 404, "page not found"),
        ({**RUN, "page": "../mkdocs.yml"}, 404, "unknown page"),
        ({**RUN, "page": "../../etc/x.md"}, 404, "unknown page"),
        ({**RUN, "page": "/etc/x.md"}, 404, "outside the docs folder"),
        ({**RUN, "page": 3}, 404, "unknown page"),
        ({**RUN, "block": 0}, 400, "positive integer"),
        ({**RUN, "block": "1"}, 400, "positive integer"),
        ({**RUN, "block": True}, 400, "positive integer"),
        ({**RUN, "block": 9}, 404, "has no python block 9"),
        ({**RUN, "block": 3}, 409, "part of a class"),
        ({**RUN, "code": None}, 400, "code must be a string"),
        ({"action": "poll", "run": "feedbeef", "since": 0}, 404, "unknown run"),
        ({"action": "poll", "run": 5}, 400, "run ID"),
        ({"action": "poll", "run": "x", "since": -1}, 400, "non-negative"),
        ({"action": "interrupt", "page": None}, 404, "unknown page"),
        ({"action": "exec", "code": "1"}, 400, "unknown action"),
    ],
)
def test_bad_requests(
    endpoint: Endpoint, pool: KernelPool, body: Any, code: int, message: str
) -> None:
    status, payload = call(endpoint, body)
    assert status == code and message in payload["error"], payload
    assert pool.kernels == {}


def test_runs_share_one_kernel_per_page(endpoint: Endpoint, pool: KernelPool) -> None:
    first = run(endpoint, "value = 6\nprint('value is', value)")
    assert first["status"] == "ok"
    assert first["events"][0] == {"type": "info", "text": "正在启动本页的内核…"}
    assert "value is 6" in text(first)
    second = run(endpoint, "value * 7", block=2)
    assert second["events"] == [{"type": "result", "text": "42"}]
    assert second["count"] == 2  # In [2]
    # another page has its own kernel and does not see the name
    other = run(endpoint, "value", page="run/other.md")
    assert other["status"] == "error" and "NameError" in text(other)
    assert len(pool.pids()) == 2


def test_interrupt_and_restart(endpoint: Endpoint, pool: KernelPool) -> None:
    run(endpoint, "kept = 1")
    status, data = call(
        endpoint,
        {**RUN, "code": "import time\nprint('sleeping', flush=True)\ntime.sleep(60)"},
    )
    assert status == 200
    queued = call(endpoint, {**RUN, "code": "print('queued')"})[1]["run"]
    # wait until the first run is inside time.sleep
    deadline = time.monotonic() + 30
    while "sleeping" not in text(
        {"events": call(endpoint, {"action": "poll", "run": data["run"]})[1]["events"]}
    ):
        assert time.monotonic() < deadline
    stopped = call(endpoint, {"action": "interrupt", "page": "run/demo.md"})[1]
    assert stopped == {"ok": True, "stopped": 2}
    result = finish(endpoint, data["run"])
    assert result["status"] == "interrupted" and "KeyboardInterrupt" in text(result)
    assert finish(endpoint, queued)["status"] == "cancelled"
    assert run(endpoint, "kept")["events"] == [{"type": "result", "text": "1"}]
    old = set(pool.pids())
    assert call(endpoint, {"action": "restart", "page": "run/demo.md"})[0] == 200
    after = run(endpoint, "kept")
    assert after["status"] == "error" and "NameError" in text(after)
    assert set(pool.pids()).isdisjoint(old)
    _wait_gone(old)


def test_a_run_submitted_during_a_restart_is_not_left_queued(
    pool: KernelPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Force the interleaving: restart the page kernel right before the hand-over.

    The hook runs where ``KernelPool.run`` hands the run to the page kernel and lets
    a restart from another thread go first, as far as the pool lets it (up to 2 s).
    Before the fix the restart stopped the kernel first and the run then sat
    ``queued`` on a worker that had exited, forever.
    """
    submit = PageKernel.submit
    restarted = threading.Event()

    def racing_submit(self: PageKernel, run: Any) -> None:
        def restart() -> None:
            pool.restart(self.page)
            restarted.set()

        threading.Thread(target=restart, daemon=True).start()
        restarted.wait(2.0)  # the fixed pool holds its lock here: the wait times out
        submit(self, run)

    monkeypatch.setattr(PageKernel, "submit", racing_submit)
    r = pool.run("run/demo.md", 1, "print('hi')")
    monkeypatch.setattr(PageKernel, "submit", submit)
    result = r.snapshot(0, wait=0)
    deadline = time.monotonic() + 10
    while not result["done"] and time.monotonic() < deadline:
        result = r.snapshot(result["next"], wait=0.2)
    assert r.done, f"the run is still {r.status!r}"
    assert r.status in ("cancelled", "interrupted")
    assert restarted.wait(5) and pool.kernels == {}
    # the page still runs afterwards, on a fresh kernel
    again = pool.run("run/demo.md", 1, "print('again')")
    snap = again.snapshot(0, wait=0)
    deadline = time.monotonic() + 60
    while not snap["done"] and time.monotonic() < deadline:
        snap = again.snapshot(0, wait=1)
    assert snap["status"] == "ok"


def test_time_limit(tmp_path: Path) -> None:
    write_pages(tmp_path)
    pool = KernelPool(tmp_path, tmp_path / "docs", timeout=1)
    try:
        ep = Endpoint(passthrough, SESSION, "127.0.0.1", run_handlers(pool))
        result = run(ep, "import time\ntime.sleep(30)")
        assert result["status"] == "timeout"
        assert {"type": "info", "text": "超过时间限制 1 s，已中断"} in result["events"]
        assert run(ep, "print('alive')")["status"] == "ok"  # same kernel goes on
    finally:
        pool.close()


def test_idle_kernels_are_shut_down_and_room_is_made(tmp_path: Path) -> None:
    write_pages(tmp_path)
    pool = KernelPool(tmp_path, tmp_path / "docs", idle_timeout=1.0, max_kernels=1)
    try:
        ep = Endpoint(passthrough, SESSION, "127.0.0.1", run_handlers(pool))
        run(ep, "1")
        first = set(pool.pids())
        run(ep, "2", page="run/other.md")  # only one kernel at a time
        assert list(pool.kernels) == ["run/other.md"]
        _wait_gone(first)
        second = set(pool.pids())
        deadline = time.monotonic() + 20
        while pool.kernels and time.monotonic() < deadline:
            time.sleep(0.2)
        assert pool.kernels == {}
        _wait_gone(second)
        # the next run starts a new kernel and says so
        again = run(ep, "3", page="run/other.md")
        assert again["events"][0]["text"] == "正在启动本页的内核…"
    finally:
        pool.close()


def test_close_stops_every_kernel_and_refuses_new_runs(
    endpoint: Endpoint, pool: KernelPool
) -> None:
    run(endpoint, "1")
    run(endpoint, "1", page="run/other.md")
    pids = set(pool.pids())
    assert len(pids) == 2
    pool.close()
    _wait_gone(pids, timeout=5)
    status, payload = call(endpoint, RUN)
    assert status == 409 and "shutting down" in payload["error"]


def _wait_gone(pids: set[int], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    alive = set(pids)
    while alive and time.monotonic() < deadline:
        alive = {p for p in alive if _alive(p)}
        time.sleep(0.1)
    assert alive == set(), f"kernel processes still running: {alive}"


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


# ------------------------------------------------------------- mkdocs serve


def _serve(root: Path) -> tuple[Served, dict[str, str]]:
    make_site(root)
    write_pages(root)
    server = Served(root, ready="/run/demo/")
    req = urllib.request.Request(
        server.url + "/run/demo/", headers={"Cookie": server.cookie}
    )
    with urllib.request.urlopen(req, timeout=10) as res:
        html = res.read().decode()
    token = re.search(r'id="dlnotes-session">\{"token": "([^"]+)"\}<', html)
    assert token and 'class="dl-run"' in html
    config = json.loads(
        re.search(r'id="dlnotes-config">(\{.*?\})</script>', html)[1]  # type: ignore[index]
    )
    assert config["run"]["page"] == "run/demo.md"
    assert sorted(config["run"]["blocks"]) == ["1", "2"]  # not the method
    headers = {"Origin": server.url, "X-Dlnotes-Token": token[1]}
    return server, {**headers, "Cookie": server.cookie}


def _serve_run(server: Served, headers: dict[str, str]) -> int:
    status, data = post_json(server.url, RUN, headers)
    assert status == 200, data
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        _, polled = post_json(
            server.url, {"action": "poll", "run": data["run"], "since": 0}, headers
        )
        if polled["done"]:
            assert polled["status"] == "ok"
            assert {"type": "stream", "name": "stdout", "text": "hi\n"} in polled[
                "events"
            ]
            break
    kids = psutil.Process(server.proc.pid).children(recursive=True)
    pids = [p.pid for p in kids if "ipykernel_launcher" in " ".join(p.cmdline())]
    assert len(pids) == 1
    return pids[0]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_no_kernel_outlives_mkdocs_serve(tmp_path: Path, sig: int) -> None:
    server, headers = _serve(tmp_path)
    try:
        # a cross-origin page cannot run code on the served site
        bad = {**headers, "Origin": "http://127.0.0.1:1"}
        assert post_json(server.url, RUN, bad)[0] == 403
        pid = _serve_run(server, headers)
    finally:
        server.stop(sig)
    # Ctrl-C and kill shut the kernels down; after kill -9 each kernel notices
    # its parent is gone (ipykernel's parent poller) and exits
    _wait_gone({pid}, timeout=30)
    if sig != signal.SIGKILL:
        log = server.log.read_text(encoding="utf-8", errors="replace")
        assert "Traceback" not in log, log[-3000:]
