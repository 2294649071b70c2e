"""Read a note and write it back safely: the lock, the snapshot, the checked save.

Every edit of a note

* runs under an exclusive ``fcntl.flock`` on ``<docs>/.dlnotes.lock``, so racing
  ``dlnotes`` commands and the ``mkdocs serve`` endpoint never interleave;
* reads the file under the lock, with a :class:`Snapshot` (size, mtime, SHA-256);
* is checked (:func:`dlnotes.kb.edits.verify_edit`) and written by the one atomic
  writer, :func:`dlnotes.fileio.atomic_write`: a writer killed at any moment leaves
  the old or the new file, never a partial one;
* never overwrites a save by another program (Obsidian, VS Code) that lands while
  it runs: the replace happens only if the file still holds the snapshot's bytes,
  else the note is read again and the edit re-applied (or refused);
* keeps a UTF-8 byte order mark where the note has one.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from dlnotes.fileio import FileChanged, atomic_write, real_path
from dlnotes.kb.edits import verify_edit
from dlnotes.kb.errors import NotFound, StudyError
from dlnotes.kb.grammar import BOM
from dlnotes.kb.notes import ParsedPage, parse_page, read_settled

LOCK_NAME = ".dlnotes.lock"
# Reads of a note that another program keeps saving before the edit gives up.
ATTEMPTS = 8
RETRY_WAIT = 0.02  # seconds, times the attempt number


@contextmanager
def locked(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_path`` (created if needed)."""
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StudyError(
            f"cannot create the lock file {lock_path}: {exc.strerror}"
        ) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def check_writable(path: Path) -> None:
    """Refuse read-only files (even for root) and folders we cannot write in."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError as exc:
        raise NotFound(f"{path}: no such file") from exc
    if not os.access(path, os.W_OK) or not mode & (stat.S_IWUSR | stat.S_IWGRP):
        raise StudyError(f"{path}: the file is read-only")
    folder = real_path(path).parent  # a note linked into a vault is saved there
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StudyError(f"{folder}: cannot write in this folder")


@dataclass(frozen=True)
class Snapshot:
    """What a note was when it was read: size, modification time, content hash."""

    size: int
    mtime_ns: int
    sha256: str

    def still(self, path: Path) -> bool:
        """Whether size and mtime still match (the cheap half of the check)."""
        try:
            st = path.stat()
        except FileNotFoundError:
            return False
        return (st.st_size, st.st_mtime_ns) == (self.size, self.mtime_ns)


def read_snapshot(path: Path) -> tuple[str, Snapshot]:
    """The text of the note at ``path`` and its snapshot, from one open file."""
    try:
        raw, st = read_settled(path)
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StudyError(f"{path}: not UTF-8 ({exc.reason})") from exc
    except FileNotFoundError as exc:
        raise NotFound(f"{path}: no such file") from exc
    except OSError as exc:
        raise StudyError(f"{path}: {exc.strerror}") from exc
    snap = Snapshot(len(raw), st.st_mtime_ns, hashlib.sha256(raw).hexdigest())
    return text, snap


def edit_page(
    path: Path,
    page: str,
    edit: Callable[[ParsedPage], tuple[str, str]],
    *,
    lock_path: Path,
    added: bool = False,
) -> ParsedPage:
    """Apply ``edit`` to the page at ``path`` under the lock, verified and atomic.

    ``edit(parsed) -> (new_text, target_id)`` runs on the text read *under the lock*.
    Returns the page as written. Nothing is written when the text does not change.

    Other programs (the user's editor) do not take the lock, so the file may be
    saved between the read and the write. The write replaces the file only if it
    still holds the bytes that were read (:class:`Snapshot`; the replace itself is
    checked, see :func:`dlnotes.fileio.atomic_write`); otherwise the file is read
    again and ``edit`` applied to the new text, up to :data:`ATTEMPTS` times. An
    edit that no longer applies (the item is gone) is refused with its own message.
    """
    with locked(lock_path):
        for attempt in range(ATTEMPTS):
            check_writable(path)
            old_text, snap = read_snapshot(path)
            bom = BOM if old_text.startswith(BOM) else ""
            parsed = parse_page(old_text, page, path)
            new_text, target = edit(parsed)
            after = verify_edit(parsed, new_text, target, added=added)
            if bom + new_text == old_text:
                return after
            if snap.still(path):
                try:
                    atomic_write(
                        path,
                        (bom + new_text).encode("utf-8"),
                        expect_sha256=snap.sha256,
                    )
                    return after
                except FileChanged:
                    pass
                except OSError as exc:
                    raise StudyError(f"{path}: cannot write: {exc.strerror}") from exc
            time.sleep(RETRY_WAIT * attempt)  # let the other program finish saving
    raise StudyError(
        f"{path}: another program kept saving the file; nothing was written (try again)"
    )
