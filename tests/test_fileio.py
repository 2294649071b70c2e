"""The one atomic writer: modes, stale temp files, conditional replace."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

import dlnotes.fileio as fileio
from dlnotes.fileio import FileChanged, atomic_write


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_temp_files_of_dead_writers_are_removed_by_the_next_writer(
    tmp_path: Path,
) -> None:
    note = tmp_path / "n.md"
    note.write_text("old", encoding="utf-8")
    dead = tmp_path / f".n.md.{_dead_pid()}-0a1b2c3d.tmp"
    live_proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = tmp_path / f".n.md.{live_proc.pid}-0a1b2c3d.tmp"
        other = tmp_path / f".other.md.{_dead_pid()}-0a1b2c3d.tmp"
        for path in (dead, live, other):
            path.write_bytes(b"x" * 1000)
        atomic_write(note, b"new")
        assert note.read_bytes() == b"new"
        assert not dead.exists()  # its writer is gone
        assert live.exists()  # its writer may still rename it
        assert other.exists()  # another file's: its own next writer decides
    finally:
        live_proc.kill()
        live_proc.wait()


@pytest.mark.parametrize("exchange", [True, False])
def test_a_conditional_replace_keeps_a_file_that_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exchange: bool
) -> None:
    if not exchange:
        monkeypatch.setattr(fileio, "_exchange", lambda a, b: False)
    note = tmp_path / "n.md"
    note.write_bytes(b"read")
    expect = hashlib.sha256(b"read").hexdigest()
    note.write_bytes(b"saved by the user")
    with pytest.raises(FileChanged):
        atomic_write(note, b"ours", expect_sha256=expect)
    assert note.read_bytes() == b"saved by the user"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["n.md"]
    note.write_bytes(b"read")
    atomic_write(note, b"ours", expect_sha256=expect)
    assert note.read_bytes() == b"ours"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["n.md"]


def test_new_files_get_normal_modes(tmp_path: Path) -> None:
    path = atomic_write(tmp_path / "new.md", b"x")
    assert path.stat().st_mode & 0o777 == 0o666 & ~fileio.current_umask()


def test_a_save_swapped_out_goes_back_even_if_our_file_vanished(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    note = tmp_path / "n.md"
    note.write_bytes(b"read")
    real = fileio._exchange
    pair = _pair(tmp_path)
    if not real(*pair):
        pytest.skip("this file system cannot exchange two files")
    for path in pair:
        path.unlink()
    calls = []

    def exchange(a: Path, b: Path) -> bool:
        calls.append(1)
        if len(calls) == 1:
            note.write_bytes(b"saved by the user")  # lands right before the swap
        else:
            note.unlink()  # and our new file is deleted before the swap back
        return real(a, b)

    monkeypatch.setattr(fileio, "_exchange", exchange)
    with pytest.raises(FileChanged):
        atomic_write(note, b"ours", expect_sha256=hashlib.sha256(b"read").hexdigest())
    assert note.read_bytes() == b"saved by the user"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["n.md"]


def _pair(folder: Path) -> tuple[Path, Path]:
    a, b = folder / "xa", folder / "xb"
    a.write_bytes(b"a")
    b.write_bytes(b"b")
    return a, b
