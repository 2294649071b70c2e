"""The Run buttons under ``mkdocs serve``: one kernel per page, behind the endpoint.

:class:`KernelPool` keeps one :class:`~dlnotes.runner.kernel.Kernel` per
page, started on the page's first run, so the blocks of a page share state in the
order they are run,
as in a notebook. Each page kernel has a worker thread that owns it and runs the page's
requests in order; the HTTP threads only queue work and read events.

The API is plain Python (:meth:`KernelPool.run`, :meth:`~KernelPool.poll`,
:meth:`~KernelPool.interrupt`, :meth:`~KernelPool.restart`); it raises
:class:`UnknownPage`, :class:`UnknownRun` or :class:`PoolBusy`. The site registers it
behind its endpoint (:func:`dlnotes.site.run_ui.run_handlers`); the runner knows
nothing of HTTP.

A run longer than ``timeout`` seconds is interrupted with a message. A kernel idle for
``idle_timeout`` seconds is shut down (the next run starts a new one and says so); at
most ``max_kernels`` run at once (the least recently used idle one is shut down to make
room). :meth:`KernelPool.close` shuts every kernel down; the plugin calls it when
``mkdocs serve`` stops (and at exit). Should ``mkdocs serve`` be killed outright, each
kernel notices its parent is gone and exits (ipykernel's parent poller).
"""

from __future__ import annotations

import logging
import queue
import secrets
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from dlnotes.runner.blocks import Block, BlockError, page_blocks
from dlnotes.runner.kernel import OK, Event, Kernel, KernelError, run_block

log = logging.getLogger("mkdocs.plugins.dlnotes.run")

#: Runs remembered for polling (the oldest are forgotten first).
MAX_RUNS = 200
#: Longest a poll request waits for new output.
POLL_WAIT = 1.0


class PoolError(Exception):
    """A request the pool cannot serve."""


class UnknownPage(PoolError):
    """No such page or block, or the block cannot run."""


class UnknownRun(PoolError):
    """No run with that ID (never started, or forgotten)."""


class NotRunnable(PoolError):
    """The block exists but cannot run on its own (e.g. a method of a class)."""


class PoolBusy(PoolError):
    """No kernel can take the run now (all busy, or the server is shutting down)."""


class Run:
    """One block run: its events, appended by the worker, read by polls."""

    def __init__(self, page: str, block: Block, code: str) -> None:
        self.id = secrets.token_hex(8)
        self.page = page
        self.block = block
        self.code = code
        self.status = "queued"
        self.events: list[Event] = []
        self.done = False
        self.count = 0  # the kernel's execution count (In [n])
        self.cond = threading.Condition()

    def add(self, event: Event) -> None:
        with self.cond:
            self.events.append(event)
            self.cond.notify_all()

    def finish(self, status: str) -> None:
        with self.cond:
            self.status = status
            self.done = True
            self.cond.notify_all()

    def snapshot(self, since: int, wait: float) -> dict[str, Any]:
        with self.cond:
            if since >= len(self.events) and not self.done:
                self.cond.wait(wait)
            events = self.events[since:]
            return {
                "run": self.id,
                "status": self.status,
                "done": self.done,
                "events": events,
                "next": since + len(events),
                "count": self.count,
            }


class PageKernel:
    """A page's kernel and the worker thread that owns it."""

    def __init__(self, pool: KernelPool, page: str) -> None:
        self.pool = pool
        self.page = page
        self.jobs: queue.Queue[tuple[str, Run | None]] = queue.Queue()
        self.kernel = Kernel(pool.root)
        self.current: Run | None = None
        self.pending: list[Run] = []
        self.last_used = time.monotonic()
        self.stop_flag = threading.Event()  # stop the running block
        self.stopped = False  # stop() was called: the worker takes no more runs
        self.lock = threading.Lock()
        self.thread = threading.Thread(
            target=self._work, name=f"dlnotes-kernel:{page}", daemon=True
        )
        self.thread.start()

    @property
    def busy(self) -> bool:
        with self.lock:
            return self.current is not None or bool(self.pending)

    def submit(self, run: Run) -> None:
        with self.lock:
            if not self.stopped:
                self.pending.append(run)
                self.last_used = time.monotonic()
                self.jobs.put(("run", run))
                return
        # never leave a run queued on a kernel whose worker has been told to stop
        run.add({"type": "info", "text": "已取消（内核已关闭）"})
        run.finish("cancelled")

    def interrupt(self) -> int:
        """Stop the running block and drop the queued ones; how many were affected."""
        with self.lock:
            dropped, self.pending = self.pending, []
            running = self.current is not None
            if running:
                self.stop_flag.set()
        for run in dropped:
            run.add({"type": "info", "text": "已取消（内核被中断）"})
            run.finish("cancelled")
        return len(dropped) + int(running)

    def stop(self) -> None:
        with self.lock:
            self.stopped = True
        self.interrupt()
        self.jobs.put(("stop", None))

    def _work(self) -> None:
        while True:
            action, run = self.jobs.get()
            if action == "stop":
                self.kernel.shutdown()
                return
            assert run is not None
            with self.lock:
                if run not in self.pending:
                    continue  # cancelled while queued
                self.pending.remove(run)
                self.current = run
                self.stop_flag.clear()
            try:
                self._run(run)
            except Exception as exc:  # never let the worker die silently
                log.exception("dlnotes: run of %s failed", self.page)
                run.add({"type": "info", "text": f"运行失败：{exc}"})
                run.finish("failed")
            finally:
                with self.lock:
                    self.current = None
                self.last_used = time.monotonic()

    def _run(self, run: Run) -> None:
        run.status = "running"
        if not self.kernel.is_alive():
            if self.kernel.started:
                self.kernel.shutdown()
            run.add({"type": "info", "text": "正在启动本页的内核…"})
            try:
                self.kernel.start()
            except KernelError as exc:
                run.add({"type": "info", "text": str(exc)})
                run.finish("failed")
                return
        status = run_block(
            self.kernel,
            run.block,
            run.add,
            code=run.code,
            timeout=self.pool.timeout,
            should_stop=self.stop_flag.is_set,
        )
        run.count = self.kernel.executions
        run.finish(status if status != OK else "ok")


class KernelPool:
    """Kernels for the pages of one ``mkdocs serve``; see the module docstring."""

    def __init__(
        self,
        root: Path,
        docs: Path,
        *,
        timeout: float = 60.0,
        idle_timeout: float = 600.0,
        max_kernels: int = 8,
    ) -> None:
        if timeout <= 0:
            raise ValueError(f"run timeout must be positive, got {timeout}")
        if max_kernels < 1:
            raise ValueError(f"max_kernels must be at least 1, got {max_kernels}")
        self.root = Path(root)
        self.docs = Path(docs)
        self.timeout = timeout
        self.idle_timeout = idle_timeout
        self.max_kernels = max_kernels
        self.kernels: dict[str, PageKernel] = {}
        self.runs: OrderedDict[str, Run] = OrderedDict()
        self.lock = threading.Lock()
        self.closed = False
        self._reaper = threading.Thread(
            target=self._reap, name="dlnotes-kernel-reaper", daemon=True
        )
        self._reaper.start()

    # ------------------------------------------------------------ requests
    def run(self, page: str, index: int, code: str) -> Run:
        try:
            blocks = page_blocks(self.docs, page, self.root)
            block = blocks.block(index)
        except BlockError as exc:
            raise UnknownPage(str(exc)) from None
        if not block.runnable:
            raise NotRunnable(f"block {index} of {page} cannot run: {block.reason}")
        run = Run(page, block, code)
        with self.lock:
            if self.closed:
                raise PoolBusy("the server is shutting down")
            pk = self.kernels.get(page)
            if pk is None:
                self._make_room()
                pk = self.kernels[page] = PageKernel(self, page)
            self.runs[run.id] = run
            while len(self.runs) > MAX_RUNS:
                self.runs.popitem(last=False)
            # Hand over while still holding the lock: restart, eviction and the
            # reaper remove a kernel from self.kernels under this lock before they
            # stop it, so the run is either queued on a live kernel (and cancelled
            # by its stop) or never sees the stopped one.
            pk.submit(run)
        return run

    def poll(self, run_id: str, since: int, wait: float = POLL_WAIT) -> dict[str, Any]:
        with self.lock:
            run = self.runs.get(run_id)
        if run is None:
            raise UnknownRun(f"unknown run {run_id!r}")
        return run.snapshot(since, wait)

    def interrupt(self, page: str) -> int:
        with self.lock:
            pk = self.kernels.get(page)
        return pk.interrupt() if pk is not None else 0

    def restart(self, page: str) -> None:
        with self.lock:
            pk = self.kernels.pop(page, None)
        if pk is not None:
            pk.stop()  # the next run starts a fresh kernel

    def pids(self) -> list[int]:
        """Process IDs of the running kernels (for tests and diagnostics)."""
        with self.lock:
            kernels = list(self.kernels.values())
        return [p for pk in kernels if (p := pk.kernel.pid) is not None]

    # ------------------------------------------------------------ lifecycle
    def _make_room(self) -> None:
        """Called with the lock held: stop the least recently used idle kernel."""
        if len(self.kernels) < self.max_kernels:
            return
        idle = [pk for pk in self.kernels.values() if not pk.busy]
        if not idle:
            raise PoolBusy(f"all {self.max_kernels} kernels are busy; try later")
        oldest = min(idle, key=lambda pk: pk.last_used)
        log.info("dlnotes: shutting down the kernel of %s to make room", oldest.page)
        del self.kernels[oldest.page]
        oldest.stop()

    def _reap(self) -> None:
        while not self.closed:
            time.sleep(min(5.0, max(self.idle_timeout / 4, 0.05)))
            now = time.monotonic()
            with self.lock:
                stale = [
                    pk
                    for pk in self.kernels.values()
                    if not pk.busy and now - pk.last_used > self.idle_timeout
                ]
                for pk in stale:
                    del self.kernels[pk.page]
            for pk in stale:
                log.info("dlnotes: kernel of %s idle, shut down", pk.page)
                pk.stop()

    def close(self, wait: float = 15.0) -> None:
        """Shut every kernel down (idempotent)."""
        with self.lock:
            self.closed = True
            kernels = list(self.kernels.values())
            self.kernels.clear()
        for pk in kernels:
            pk.stop()
        deadline = time.monotonic() + wait
        for pk in kernels:
            pk.thread.join(max(0.0, deadline - time.monotonic()))
            if pk.thread.is_alive():  # stuck worker: kill the process ourselves
                pk.kernel.shutdown()
