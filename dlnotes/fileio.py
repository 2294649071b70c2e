"""One atomic writer for everything dlnotes saves: notes, checkpoints, models.

Neither the learning core nor the tooling owns it, so both may import it; it needs
nothing but the standard library.

``atomic_write`` writes a temporary dot-file in the folder of the real file (a
symlink is followed, so a note linked into an Obsidian vault is edited in place,
never replaced by a copy), fsyncs it, renames it over the target and fsyncs the
folder: a reader sees the old bytes or the new ones, never a mix, even after
``kill -9``. File modes are the ordinary ones: an existing file keeps its mode, a
new file gets ``0o666`` less the process umask (0644 under the usual 022).

``expect_sha256`` makes the save conditional, for files another program may save at
the same moment (a note open in Obsidian or VS Code): the file is replaced only if
it still holds the bytes with that hash. On Linux the replace is an atomic
``renameat2(RENAME_EXCHANGE)``: the file is hashed right before the swap, the new
file and the old one swap names, and the bytes that were replaced are hashed again
*after* the swap and swapped back when they are not the expected ones, so a save
that lands at any moment is never overwritten. Elsewhere the file is hashed right
before ``os.replace`` (a window of microseconds remains there).

Temp files are ``.NAME.PID-RANDOM.tmp``; one whose writer process is gone (killed
mid-write) is removed by the next writer of the same file.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import os
import re
import stat
import sys
import threading
from contextlib import suppress
from pathlib import Path
from typing import Any

__all__ = [
    "TEMP_NAME_RE",
    "TMP_SUFFIX",
    "FileChanged",
    "atomic_write",
    "current_umask",
    "real_path",
    "remove_stale_temps",
    "sha256_file",
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


class FileChanged(OSError):
    """The file no longer holds the expected bytes: another program saved it."""


def sha256_file(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def remove_stale_temps(target: Path) -> list[Path]:
    """Remove the temp files of ``target`` whose writer process is gone.

    Only names of the form ``.NAME.PID-RANDOM.tmp`` for this ``NAME`` are touched;
    temp files of a live process (this one included) are kept.
    """
    prefix = f".{target.name}."
    removed: list[Path] = []
    try:
        names = [n for n in os.listdir(target.parent) if n.startswith(prefix)]
    except OSError:
        return removed
    for name in names:
        m = TEMP_NAME_RE.fullmatch(name)
        if m is None or m["name"] != target.name:
            continue
        pid = int(m["pid"])
        if pid == os.getpid() or _pid_alive(pid):
            continue
        with suppress(FileNotFoundError):
            os.unlink(target.parent / name)
            removed.append(target.parent / name)
    return removed


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_renameat2: Any = None  # the libc function, False where there is none


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap the files at ``a`` and ``b``; False where not supported."""
    global _renameat2
    if _renameat2 is None:
        func = None
        if sys.platform.startswith("linux"):
            with suppress(OSError, AttributeError):
                func = ctypes.CDLL(None, use_errno=True).renameat2
        _renameat2 = func if func is not None else False
    if _renameat2 is False:
        return False
    rc = _renameat2(
        _AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE
    )
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False  # this file system cannot exchange
    raise OSError(err, os.strerror(err), str(b))


def _replace_if_unchanged(tmp: Path, target: Path, data: bytes, sha256: str) -> None:
    """Move ``tmp`` over ``target`` only if ``target`` still hashes to ``sha256``.

    The target is hashed right before the replace; where the file system can
    exchange two files, the bytes actually replaced are hashed again after the
    swap, and a save that landed in between is swapped back into place.
    """
    changed = FileChanged(errno.EAGAIN, "saved by another program", str(target))
    try:
        if sha256_file(target) != sha256:
            raise changed
    except FileNotFoundError:
        raise changed from None
    if not _exchange(tmp, target):
        os.replace(tmp, target)
        return
    # `tmp` now holds what `target` held at the instant of the swap
    if sha256_file(tmp) == sha256:
        os.unlink(tmp)
        return
    try:
        _exchange(tmp, target)  # put the other program's save back
    except FileNotFoundError:  # our file is gone meanwhile: the save goes back alone
        os.rename(tmp, target)
        raise changed from None
    if sha256_file(tmp) == hashlib.sha256(data).hexdigest():
        os.unlink(tmp)
        raise changed
    # yet another save landed on our file meanwhile: keep it, never delete it
    kept = target.parent / f".{target.name}.conflict-{os.urandom(4).hex()}"
    os.rename(tmp, kept)
    raise FileChanged(
        errno.EAGAIN,
        f"saved twice by another program during the save; one copy is kept as "
        f"{kept.name}",
        str(target),
    )


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as exc:  # some file systems cannot fsync folders
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)


def atomic_write(
    path: Path | str,
    data: bytes,
    *,
    mode: int | None = None,
    expect_sha256: str | None = None,
) -> Path:
    """Replace the file at ``path`` by ``data`` atomically; returns the real path.

    ``mode``: permission bits for the file; default: those of the file it replaces,
    or ``0o666 & ~umask`` for a new file. ``expect_sha256``: replace only a file
    that still holds the bytes with this SHA-256, else raise :class:`FileChanged`
    and leave the file as the other program saved it. The temp file is removed on
    any error.
    """
    target = real_path(Path(path))
    folder = target.parent
    remove_stale_temps(target)
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
        if expect_sha256 is None:
            os.replace(tmp, target)
        else:
            _replace_if_unchanged(tmp, target, data, expect_sha256)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(folder)
    return target
