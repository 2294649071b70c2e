"""Read a note and write it back safely: the lock, the snapshot, the checked save.

Every edit of a note

* runs under an exclusive ``fcntl.flock`` on ``<docs>/.dlnotes.lock``, so racing
  ``dlnotes`` commands and the ``mkdocs serve`` endpoint never interleave;
* reads the file under the lock and parses it;
* is checked (:func:`dlnotes.kb.edits.verify_edit`) and written by the one atomic
  writer, :func:`dlnotes.fileio.atomic_write`: a writer killed at any moment leaves
  the old or the new file, never a partial one.
"""

from __future__ import annotations

import fcntl
import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from dlnotes.fileio import atomic_write
from dlnotes.kb.edits import verify_edit
from dlnotes.kb.errors import NotFound, StudyError
from dlnotes.kb.notes import ParsedPage, parse_page

LOCK_NAME = ".dlnotes.lock"


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
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise StudyError(f"{path.parent}: cannot write in this folder")


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
    """
    with locked(lock_path):
        check_writable(path)
        try:
            raw = path.read_bytes()
            old_text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise StudyError(f"{path}: not UTF-8 ({exc.reason})") from exc
        except OSError as exc:
            raise StudyError(f"{path}: {exc.strerror}") from exc
        parsed = parse_page(old_text, page, path)
        new_text, target = edit(parsed)
        after = verify_edit(parsed, new_text, target, added=added)
        if new_text != old_text:
            try:
                atomic_write(path, new_text.encode("utf-8"))
            except OSError as exc:
                raise StudyError(f"{path}: cannot write: {exc.strerror}") from exc
        return after
