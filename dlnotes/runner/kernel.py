"""Run a page's code blocks in a real Jupyter kernel (jupyter_client + ipykernel).

One :class:`Kernel` is one IPython kernel process, started with the project root as its
working folder (the folder of ``mkdocs.yml``, so ``load_photo("flower.jpg")`` and
relative paths behave as in the tests) and matplotlib's inline backend (figures come
back as PNG images). Its messages are turned into plain JSON events:

``{"type": "stream", "name": "stdout"|"stderr", "text": ...}``
    printed output, as it streams;
``{"type": "result", "text": ..., "png": ...}`` / ``{"type": "display", ...}``
    the value of the last expression / a displayed object (a matplotlib figure
    arrives as ``png``, base64);
``{"type": "error", "ename", "evalue", "traceback"}``
    an exception (traceback without colour codes);
``{"type": "clear"}``
    ``clear_output()`` (progress bars);
``{"type": "info", "text": ...}``
    what the runner did: kernel started, time limit hit, kernel restarted.

:func:`run_page` is the one execution path of ``dlnotes run PAGE`` and of the test that
proves every block of every page runs; the Run buttons under ``mkdocs serve`` use the
same :class:`Kernel` (:mod:`dlnotes.runner.pool`).

A :class:`Kernel` is not thread-safe: one thread owns it (the pool gives each page's
kernel a worker thread). :meth:`Kernel.execute` polls the kernel every 0.1 s, so the
owner can stop a run (time limit, the page's Interrupt button) without another thread
touching the kernel's sockets.
"""

from __future__ import annotations

import base64
import contextlib
import os
import queue
import re
import shutil
import struct
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlnotes.kb.errors import StudyError
from dlnotes.runner.blocks import Block, PageBlocks

Event = dict[str, Any]
EventSink = Callable[[Event], None]

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
#: Seconds a kernel gets to stop after an interrupt before it is restarted.
INTERRUPT_GRACE = 10.0
#: Output kept per run, in characters: text, tracebacks and images (base64) together;
#: more is dropped with a note (a runaway print loop, a flood of large figures).
MAX_OUTPUT = 8_000_000
#: What every event costs on top of its payload, so that a flood of tiny events
#: (``clear_output()`` in a loop) reaches the limit too.
EVENT_COST = 64
REPLY_GRACE = 1.0  # seconds of quiet IOPub after the reply: the run is over
MAX_IMAGES = 50
#: The end of a traceback that is kept once the limit is reached.
MAX_TRACEBACK = 20_000

OK, ERROR, TIMEOUT, INTERRUPTED, DIED = "ok", "error", "timeout", "interrupted", "died"


class KernelError(StudyError):
    """The kernel could not be started or stopped responding."""


def strip_ansi(text: str) -> str:
    return ANSI.sub("", text)


def png_size(data: str) -> tuple[int, int] | None:
    """(width, height) of a base64 PNG, read from its header."""
    try:
        head = base64.b64decode(data[:64].encode("ascii") + b"==", validate=False)
    except ValueError:
        return None
    if head[:8] != b"\x89PNG\r\n\x1a\n" or len(head) < 24:
        return None
    width, height = struct.unpack(">II", head[16:24])
    return int(width), int(height)


def _bundle(kind: str, data: dict[str, Any]) -> Event:
    event: Event = {"type": kind}
    png = data.get("image/png")
    text = data.get("text/plain")
    if isinstance(png, str):
        event["png"] = png.replace("\n", "")
    if isinstance(text, str) and not (png and text.startswith("<Figure size")):
        event["text"] = text
    return event


class Kernel:
    """An IPython kernel with ``cwd`` as working folder; a context manager."""

    def __init__(
        self,
        cwd: Path,
        *,
        startup_timeout: float = 60.0,
        env: dict[str, str] | None = None,
    ) -> None:
        self.cwd = Path(cwd)
        self.startup_timeout = startup_timeout
        self.extra_env = dict(env or {})
        self._km: Any = None
        self._kc: Any = None
        self._dir: str | None = None
        self.executions = 0

    # ------------------------------------------------------------ lifecycle
    @property
    def started(self) -> bool:
        return self._km is not None

    @property
    def pid(self) -> int | None:
        proc = getattr(getattr(self._km, "provisioner", None), "process", None)
        return getattr(proc, "pid", None)

    def is_alive(self) -> bool:
        return self._km is not None and bool(self._km.is_alive())

    def start(self) -> None:
        from jupyter_client.manager import KernelManager

        if self._km is not None:
            return
        # IPC sockets in a private folder: no TCP port other users could connect to.
        self._dir = tempfile.mkdtemp(prefix="dlnotes-kernel-")
        km = KernelManager(
            kernel_name="python3",
            transport="ipc",
            ip=os.path.join(self._dir, "kernel"),
            connection_file=os.path.join(self._dir, "kernel.json"),
        )
        env = dict(os.environ)
        env.update(MPLBACKEND=INLINE_BACKEND, PYDEVD_DISABLE_FILE_VALIDATION="1")
        env.update(self.extra_env)
        try:
            km.start_kernel(cwd=str(self.cwd), env=env)
            kc = km.client()
            kc.start_channels()
            kc.wait_for_ready(timeout=self.startup_timeout)
        except Exception as exc:
            with contextlib.suppress(Exception):
                km.shutdown_kernel(now=True)
            self._cleanup_dir()
            raise KernelError(f"cannot start a Python kernel: {exc}") from exc
        self._km, self._kc = km, kc
        self.executions = 0

    def shutdown(self) -> None:
        """Stop the kernel process (at once) and remove its connection files."""
        km, kc = self._km, self._kc
        self._km = self._kc = None
        if kc is not None:
            with contextlib.suppress(Exception):
                kc.stop_channels()
        if km is not None:
            with contextlib.suppress(Exception):
                km.shutdown_kernel(now=True)
            with contextlib.suppress(Exception):
                km.cleanup_resources()
        self._cleanup_dir()

    def restart(self) -> None:
        """A fresh kernel process: every name the page defined is gone."""
        self.shutdown()
        self.start()

    def _cleanup_dir(self) -> None:
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> Kernel:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def interrupt(self) -> None:
        if self._km is not None:
            with contextlib.suppress(Exception):
                self._km.interrupt_kernel()

    # ------------------------------------------------------------ execution
    def execute(
        self,
        code: str,
        on_event: EventSink,
        *,
        timeout: float | None = None,
        should_stop: Callable[[], bool] | None = None,
        store_history: bool = True,
    ) -> str:
        """Run ``code``; report its output to ``on_event`` as it comes.

        Returns :data:`OK`, :data:`ERROR` (an exception), :data:`TIMEOUT` (interrupted
        after ``timeout`` seconds), :data:`INTERRUPTED` (``should_stop()`` turned true)
        or :data:`DIED` (the kernel process ended; it has been restarted).
        """
        self.start()
        kc = self._kc
        msg_id = kc.execute(code, store_history=store_history, allow_stdin=False)
        status = OK
        started = time.monotonic()
        interrupted_at: float | None = None
        next_alive_check = started + 1.0
        budget, images = MAX_OUTPUT, 0
        dropped = False
        # ZeroMQ drops IOPub messages past its high-water mark (a flood of output):
        # the final `idle` status can be lost. The execute_reply on the shell
        # channel is never dropped; once it is in and the IOPub queue has been
        # quiet for REPLY_GRACE seconds, the run is over.
        replied_at: float | None = None

        def emit(event: Event) -> None:
            nonlocal budget, images, dropped
            if "png" in event:
                images += 1
            size = EVENT_COST + sum(
                len(event.get(key, "")) for key in ("text", "traceback", "png")
            )
            if size > budget or images > MAX_IMAGES:
                if not dropped:
                    dropped = True
                    on_event({"type": "info", "text": "输出太长，后面的输出已省略"})
                if event["type"] != "error":
                    return
                # the error that ended the run is always shown (its end, at least)
                event = {**event, "traceback": event["traceback"][-MAX_TRACEBACK:]}
                size = EVENT_COST + len(event["traceback"])
            budget -= size
            on_event(event)

        while True:
            now = time.monotonic()
            if interrupted_at is None:
                if timeout is not None and now - started > timeout:
                    status, interrupted_at = TIMEOUT, now
                    on_event(
                        {
                            "type": "info",
                            "text": f"超过时间限制 {timeout:g} s，已中断",
                        }
                    )
                    self.interrupt()
                elif should_stop is not None and should_stop():
                    status, interrupted_at = INTERRUPTED, now
                    self.interrupt()
            elif now - interrupted_at > INTERRUPT_GRACE:
                on_event(
                    {
                        "type": "info",
                        "text": "内核没有响应中断，已重启（之前定义的变量都已清空）",
                    }
                )
                self.restart()
                return status
            if now > next_alive_check:
                next_alive_check = now + 1.0
                if not self.is_alive():
                    on_event(
                        {
                            "type": "error",
                            "ename": "KernelDied",
                            "evalue": "the kernel process ended",
                            "traceback": "内核进程意外退出（内存不足或崩溃），"
                            "已重新启动；之前定义的变量都已清空",
                        }
                    )
                    self.restart()
                    return DIED
            try:
                msg = kc.get_iopub_msg(timeout=0.1)
            except queue.Empty:
                if replied_at is None:
                    replied_at = self._reply_time(msg_id)
                elif time.monotonic() - replied_at > REPLY_GRACE:
                    break
                continue
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "status" and content.get("execution_state") == "idle":
                break
            if kind == "execute_input":
                self.executions = int(content.get("execution_count") or 0)
            elif kind == "stream":
                emit(
                    {"type": "stream", "name": content["name"], "text": content["text"]}
                )
            elif kind == "execute_result":
                emit(_bundle("result", content.get("data", {})))
            elif kind in ("display_data", "update_display_data"):
                emit(_bundle("display", content.get("data", {})))
            elif kind == "clear_output":
                emit({"type": "clear"})
            elif kind == "error":
                if status == OK:
                    status = ERROR
                emit(
                    {
                        "type": "error",
                        "ename": content.get("ename", ""),
                        "evalue": content.get("evalue", ""),
                        "traceback": strip_ansi(
                            "\n".join(content.get("traceback", []))
                        ),
                    }
                )
        self._drain_shell()
        return status

    def _reply_time(self, msg_id: str) -> float | None:
        """When the execute_reply of ``msg_id`` was read (now), else ``None``."""
        while True:
            try:
                reply = self._kc.get_shell_msg(timeout=0)
            except queue.Empty:
                return None
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                return time.monotonic()

    def _drain_shell(self) -> None:
        while True:
            try:
                self._kc.get_shell_msg(timeout=0.01)
            except queue.Empty:
                return


# --------------------------------------------------------------------------- pages


@dataclass
class BlockResult:
    block: Block
    status: str
    events: list[Event] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def error(self) -> Event | None:
        return next((e for e in self.events if e["type"] == "error"), None)


def run_block(
    kernel: Kernel,
    block: Block,
    on_event: EventSink,
    *,
    code: str | None = None,
    timeout: float | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> str:
    """Run one block: an embedded section's imports first, then the code shown.

    ``code`` replaces the page's code (an edited block). Setup output is hidden;
    a setup error is reported like an error of the block.
    """
    if block.setup:

        def setup_event(event: Event) -> None:
            if event["type"] in ("error", "info"):
                on_event(event)

        status = kernel.execute(
            block.setup,
            setup_event,
            timeout=timeout,
            should_stop=should_stop,
            store_history=False,
        )
        if status != OK:
            return status
    return kernel.execute(
        block.code if code is None else code,
        on_event,
        timeout=timeout,
        should_stop=should_stop,
    )


def run_page(
    blocks: PageBlocks,
    cwd: Path,
    *,
    timeout: float | None = 60.0,
    on_start: Callable[[Block], None] | None = None,
    on_event: Callable[[Block, Event], None] | None = None,
    kernel: Kernel | None = None,
) -> list[BlockResult]:
    """Run a page's runnable blocks in order in one fresh kernel.

    Stops after the first block that does not end :data:`OK`; the last result then
    names it. ``kernel`` reuses a started kernel (the caller shuts it down).
    """
    results: list[BlockResult] = []
    own = kernel is None
    k = kernel or Kernel(cwd)
    try:
        for block in blocks.runnable:
            if on_start is not None:
                on_start(block)
            result = BlockResult(block, OK)
            started = time.monotonic()

            def sink(event: Event, result: BlockResult = result) -> None:
                result.events.append(event)
                if on_event is not None:
                    on_event(result.block, event)

            result.status = run_block(k, block, sink, timeout=timeout)
            result.seconds = time.monotonic() - started
            results.append(result)
            if result.status != OK:
                break
    finally:
        if own:
            k.shutdown()
    return results
