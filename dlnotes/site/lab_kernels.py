"""The lab notebooks' kernels (mkdocs-jupyter) talk over IPC sockets, not TCP.

mkdocs-jupyter executes ``docs/labs/*.py`` through nbconvert, whose kernels listen
on TCP ports of 127.0.0.1 by default: any local account can connect to them while a
notebook runs, and every kernel prints "Kernel is running over TCP without
encryption" into the ``mkdocs build``/``serve`` output. :func:`use_ipc` adds
``KernelManager.transport = "ipc"`` to the nbconvert configuration mkdocs-jupyter
builds, with the sockets in a private (0700) folder of this process, like the
project's own runner (:mod:`dlnotes.runner.kernel`).
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
from typing import Any

_DIR: list[str] = []


def _socket_dir() -> str:
    if not _DIR:
        path = tempfile.mkdtemp(prefix="dlnotes-labs-")  # mode 0700
        atexit.register(shutil.rmtree, path, ignore_errors=True)
        _DIR.append(path)
    return _DIR[0]


def use_ipc() -> bool:
    """Patch mkdocs-jupyter's nbconvert app factory (once); False without it."""
    try:
        import mkdocs_jupyter.nbconvert2 as nb2
    except ImportError:
        return False
    original = getattr(nb2, "get_nbconvert_app", None)
    if original is None:
        return False
    if getattr(original, "_dlnotes", False):
        return True

    @functools.wraps(original)
    def get_nbconvert_app(*args: Any, **kwargs: Any) -> Any:
        app = original(*args, **kwargs)
        app.config.update(
            {
                "KernelManager": {
                    "transport": "ipc",
                    "ip": os.path.join(_socket_dir(), f"kernel-{os.urandom(4).hex()}"),
                }
            }
        )
        return app

    get_nbconvert_app._dlnotes = True  # type: ignore[attr-defined]
    nb2.get_nbconvert_app = get_nbconvert_app
    return True
