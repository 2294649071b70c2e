"""How ``mkdocs serve`` notices a save: inotify instead of a half-second poll.

MkDocs 1.6 watches ``docs/``, ``mkdocs.yml`` and the ``watch:`` folders with
watchdog's *polling* observer: every 0.5 s it walks each tree and compares a
snapshot, so a save waits 0.25 s on average (0.5 s at worst) before the rebuild even
starts, and the walks cost CPU all the time. On Linux, :func:`use_inotify` (called
from the ``dlnotes`` plugin's ``on_serve``) moves the same watches to watchdog's
inotify observer: the kernel reports the save at once.

It also leaves out events no page depends on, which would each start a rebuild:

* a file opened or closed without writing (inotify reports reads, and every
  build reads every note: each rebuild would start the next);
* ``__pycache__`` and ``*.pyc`` (a figure or a kernel imports the package: Python
  writes bytecode into the watched ``dlnotes/``);
* folders whose name starts with a dot below a watched folder (``.obsidian/`` is
  rewritten by Obsidian while you type, ``.trash/``, ``.git/``) and dot-files other
  than ``.nav.yml``/``.pages`` (MkDocs does not publish them);
* editors' and our own temporary files (``.#x``, ``x~``, ``.x.swp``, ``x.tmp``, vim's
  ``4913``); the rename that puts a saved file in place is still seen.

``DLNOTES_WATCH=poll`` keeps MkDocs' polling (for folders on network drives or
other file systems without inotify); so does any error setting up inotify (the
reason is logged).
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler

log = logging.getLogger("mkdocs.plugins.dlnotes.watch")

_TEMP_NAME = re.compile(r"^\.#|~$|\.sw[a-p]$|\.tmp$|\.py[co]$|^4913$")
_DOT_FILES_READ = {".nav.yml", ".pages"}
# inotify also reports reads; the build reads every note, so each rebuild would
# start the next one
_READS = {"opened", "closed_no_write"}


def ignorable(rel: str) -> bool:
    """Whether a change to ``rel`` (relative to a watched folder) can be skipped."""
    parts = [p for p in rel.replace(os.sep, "/").split("/") if p not in ("", ".")]
    if not parts:
        return False
    *folders, name = parts
    if any(p == "__pycache__" or p.startswith(".") for p in folders):
        return True
    if name.startswith(".") and name not in _DOT_FILES_READ:
        return True
    return bool(_TEMP_NAME.search(name))


class _Filtered(FileSystemEventHandler):
    """Passes an event on unless every path it names is :func:`ignorable`."""

    def __init__(self, handler: FileSystemEventHandler, root: str) -> None:
        self.handler = handler
        self.root = os.path.abspath(os.fsdecode(root))
        # a single file (mkdocs.yml): inotify watches its folder, and reports every
        # file there (logs, .cache/ writes in the project root)
        self.file = not os.path.isdir(self.root)

    def dispatch(self, event: FileSystemEvent) -> None:
        if event.event_type in _READS:
            return
        paths = [
            os.path.abspath(os.fsdecode(p))
            for p in (event.src_path, event.dest_path)
            if p
        ]
        if self.file:
            if self.root not in paths:
                return
        elif paths and all(ignorable(os.path.relpath(p, self.root)) for p in paths):
            return
        self.handler.dispatch(event)


def _observer_class() -> type:
    from watchdog.observers.inotify import InotifyObserver

    class Observer(InotifyObserver):
        """Filters events; ``start`` twice is fine (MkDocs starts it in ``serve``)."""

        def schedule(
            self, event_handler: FileSystemEventHandler, path: Any, **kw: Any
        ) -> Any:
            return super().schedule(_Filtered(event_handler, str(path)), path, **kw)

        def start(self) -> None:
            if not self.is_alive():
                super().start()

    return Observer


def use_inotify(server: Any) -> str:
    """Move a MkDocs ``LiveReloadServer``'s watches to inotify; returns the method.

    Called before MkDocs starts the observer; watches MkDocs adds later (the
    ``watch:`` folders) go to the new observer through ``server.watch``.
    """
    if os.environ.get("DLNOTES_WATCH", "").lower() == "poll":
        return "polling"
    old = getattr(server, "observer", None)
    refs = getattr(server, "_watch_refs", None)
    handlers = getattr(old, "_handlers", None)
    if old is None or refs is None or handlers is None or old.is_alive():
        return "polling"
    new = None
    try:
        new = _observer_class()()
        moved = {
            path: new.schedule(h, watch.raw_path, recursive=watch.is_recursive)
            for path, watch in refs.items()
            for h in handlers.get(watch, ())
        }
        new.start()  # inotify is set up here: an error leaves the polling in place
    except (ImportError, OSError) as exc:
        if new is not None and new.is_alive():
            new.stop()
        log.info("dlnotes: watching for changes by polling (inotify: %s)", exc)
        return "polling"
    for watch in list(refs.values()):
        old.unschedule(watch)
    refs.update(moved)
    server.observer = new
    return "inotify"
