"""Raw note bytes in, text out: regular files of a sane size, the usual encodings."""

from __future__ import annotations

import os
import stat
import unicodedata
from pathlib import Path

from dlnotes.kb.errors import StudyError

MAX_BYTES = 2 * 1024 * 1024
ENCODINGS = ("utf-8", "gb18030")


class ImportFailure(StudyError):
    """A file that cannot be imported (empty, binary, too large, undecodable)."""


# --------------------------------------------------------------------------- #
# Bytes -> text
# --------------------------------------------------------------------------- #


def decode_note(raw: bytes, name: str = "file") -> tuple[str, str]:
    """``(text, encoding)``; garbage (empty, binary, huge) raises ImportFailure."""
    if len(raw) > MAX_BYTES:
        raise ImportFailure(_too_large(name, len(raw)))
    boms = (
        (b"\xef\xbb\xbf", "utf-8-sig"),
        (b"\xff\xfe", "utf-16"),
        (b"\xfe\xff", "utf-16"),
    )
    text = None
    encoding = ""
    for bom, enc in boms:
        if raw.startswith(bom):
            try:
                text, encoding = raw.decode(enc), enc
            except UnicodeDecodeError as exc:
                raise ImportFailure(
                    f"{name}: invalid {enc} text ({exc.reason})"
                ) from exc
            break
    if text is None:
        if b"\x00" in raw:
            raise ImportFailure(f"{name}: binary data (NUL bytes), not a text note")
        for enc in ENCODINGS:
            try:
                text, encoding = raw.decode(enc), enc
                break
            except UnicodeDecodeError:
                continue
    if text is None:
        raise ImportFailure(
            f"{name}: cannot decode as {', '.join(ENCODINGS)} or UTF-16 with a BOM"
        )
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise ImportFailure(f"{name}: empty note")
    controls = sum(
        1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f"
    )
    odd = controls + text.count("\ufffd")
    if "\x00" in text or odd > max(2, len(text) // 200):
        raise ImportFailure(f"{name}: binary data ({odd} control characters), not text")
    return text, encoding


def read_source(source: Path) -> bytes:
    """The bytes of a raw note; anything but a regular file of sane size is refused.

    The file is opened without blocking and checked (``fstat``) before a byte is
    read: a FIFO, a device such as ``/dev/zero`` or a socket gets one clear line,
    never a hang or an out-of-memory, and a large file is refused by its size.
    """
    try:
        fd = os.open(source, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except IsADirectoryError:
        raise ImportFailure(f"{source}: is a folder, not a note") from None
    except OSError as exc:
        raise ImportFailure(f"{source}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise ImportFailure(f"{source}: is a folder, not a note")
        if not stat.S_ISREG(st.st_mode):
            raise ImportFailure(
                f"{source}: not a regular file (a pipe, device or socket); nothing read"
            )
        if st.st_size > MAX_BYTES:
            raise ImportFailure(_too_large(source, st.st_size))
        raw = f.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:  # it grew while being read
        raise ImportFailure(_too_large(source, len(raw)))
    return raw


def _too_large(source: Path | str, size: int) -> str:
    return (
        f"{source}: too large for a note ({size / 2**20:.1f} MiB > "
        f"{MAX_BYTES // 2**20} MiB)"
    )
