"""Slow build work done after the page is served, under ``mkdocs serve`` only.

Running every page's code (``dlnotes-outputs``), executing the lab notebooks
(mkdocs-jupyter) and drawing the package's figures (``dlnotes-figures``) take
minutes on a fresh clone. Under ``mkdocs serve`` the plugins queue that work here
(:func:`later`) and build the pages at once without it; when the build is written
:func:`start` runs the queue in daemon threads, at most one job per CPU (at most
two), so the work does not slow the build that serves the first page; each job
ends by asking the serve loop to build the pages it changed again. ``mkdocs build``
never queues anything: it does the work in the build, as before.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

log = logging.getLogger("mkdocs.plugins.dlnotes.background")

_LOCK = threading.Lock()
_QUEUE: list[tuple[str, Callable[[], None], Callable[[], None] | None]] = []
_SLOTS = threading.BoundedSemaphore(max(1, min(2, os.cpu_count() or 1)))
_ACTIVE: set[str] = set()


def later(
    name: str, job: Callable[[], None], then: Callable[[], None] | None = None
) -> bool:
    """Queue ``job`` under ``name`` unless a job of that name is queued or running;
    ``then()`` runs after it (failed or not), once it no longer counts as pending."""
    with _LOCK:
        if name in _ACTIVE:
            return False
        _ACTIVE.add(name)
        _QUEUE.append((name, job, then))
        return True


def pending() -> int:
    """Jobs queued or running."""
    with _LOCK:
        return len(_ACTIVE)


def start() -> int:
    """Run the queued jobs (called when a build has been written); returns how many."""
    with _LOCK:
        jobs, _QUEUE[:] = list(_QUEUE), []
    for name, job, then in jobs:
        threading.Thread(
            target=_run, args=(name, job, then), name=f"dlnotes {name}", daemon=True
        ).start()
    return len(jobs)


def _run(name: str, job: Callable[[], None], then: Callable[[], None] | None) -> None:
    try:
        with _SLOTS:
            job()
    except Exception as exc:  # reported, never kills the server
        log.warning("dlnotes: %s failed: %s: %s", name, type(exc).__name__, exc)
    finally:
        with _LOCK:
            _ACTIVE.discard(name)
    if then is not None:
        then()
