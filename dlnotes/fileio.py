"""One atomic writer for everything dlnotes saves: notes, checkpoints, models.

Neither the learning core nor the tooling owns it, so both may import it; it needs
nothing but the standard library.

``atomic_write`` writes a temporary dot-file in the folder of the real file (a
symlink is followed, so a note linked into an Obsidian vault is edited in place,
never replaced by a copy), fsyncs it, renames it over the target and fsyncs the
folder: a reader sees the old bytes or the new ones, never a mix, even after
``kill -9``. File modes are the ordinary ones: an existing file keeps its mode, a
new file gets ``0o666`` less the process umask (0644 under the usual 022).
"""

from __future__ import annotations

import errno
import os
import re
import stat
import threading
from contextlib import suppress
from pathlib import Path

__all__ = [
    "TEMP_NAME_RE",
    "TMP_SUFFIX",
    "atomic_write",
    "current_umask",
    "real_path",
    "temp_name",
]

TMP_SUFFIX = ".tmp"
# `.NAME.PID-RANDOM.tmp`, the name `temp_name` gives.
TEMP_NAME_RE = re.compile(r"\.(?P<name>.+)\.(?P<pid>\d+)-(?P<rand>[0-9a-f]+)\.tmp")
_umask_lock = threading.Lock()


def current_umask() -> int:
    """The process umask (read without leaving it changed; there is no getter)."""
    with _umask_lock:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def real_path(path: Path) -> Path:
    """``path`` with every symlink resolved (a missing final file is allowed)."""
    return Path(os.path.realpath(path))


def temp_name(target: Path) -> Path:
    """The temporary file for ``target``: ``.NAME.PID-RANDOM.tmp`` beside it.

    The PID is part of the name so that a later writer can tell whether the writer
    that left a temp file behind is still alive.
    """
    return target.parent / f".{target.name}.{os.getpid()}-{os.urandom(4).hex()}.tmp"


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as exc:  # some file systems cannot fsync folders
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)


def atomic_write(path: Path | str, data: bytes, *, mode: int | None = None) -> Path:
    """Replace the file at ``path`` by ``data`` atomically; returns the real path.

    ``mode``: permission bits for the file; default: those of the file it replaces,
    or ``0o666 & ~umask`` for a new file. The temp file is removed on any error.
    """
    target = real_path(Path(path))
    folder = target.parent
    if mode is None:
        try:
            mode = stat.S_IMODE(target.stat().st_mode)
        except FileNotFoundError:
            mode = 0o666 & ~current_umask()
    tmp = temp_name(target)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(folder)
    return target
