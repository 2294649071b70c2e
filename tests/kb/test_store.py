"""The store: locked, atomic saves of a note that never lose a concurrent save."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dlnotes.cli import main
from dlnotes.fileio import atomic_write
from dlnotes.kb.errors import StudyError
from dlnotes.kb.notes import parse_page
from dlnotes.kb.tracker import Tracker

ROOT = Path(__file__).resolve().parents[2]


def _kb(tmp_path: Path, n: int) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    body = "".join(f"- [ ] 问题 {i}？ #Q-race-{i:02d}\r\n" for i in range(1, n + 1))
    (docs / "race.md").write_bytes(f"# 竞争\r\n\r\n## 疑问\r\n\r\n{body}".encode())
    return docs


def _command(argv: list[str], barrier: Any) -> None:
    """A forked ``dlnotes`` command that starts when all of them are ready."""
    barrier.wait(30)
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        code = main(argv)
    os._exit(code)


def test_fifty_concurrent_resolve_commands_all_land(tmp_path: Path) -> None:
    # Forked processes running the CLI's main() race for real (separate processes,
    # separate file descriptors); forking skips 50 interpreter start-ups (~20 s).
    docs = _kb(tmp_path, 50)
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(50)
    procs = [
        ctx.Process(
            target=_command,
            args=(
                [
                    "resolve",
                    f"Q-race-{i:02d}",
                    "--answer",
                    f"答案 {i}\n第二行 {i}",
                    "--date",
                    "2026-11-22",
                    "--docs",
                    str(docs),
                ],
                barrier,
            ),
        )
        for i in range(1, 51)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0] * 50
    text = (docs / "race.md").read_bytes().decode()
    parsed = parse_page(text, "race.md")
    assert len(parsed.questions) == 50
    for q in parsed.questions:
        i = int(q.id[-2:])
        assert (q.status, q.resolved) == ("resolved", "2026-11-22")
        assert q.answer == f"答案 {i}\n第二行 {i}"
    assert "\n" not in text.replace("\r\n", "")  # still CRLF everywhere
    assert not list(docs.glob(".*.tmp"))


KILLER = """
import os, signal, sys
from pathlib import Path
from dlnotes.kb.tracker import Tracker
import dlnotes.fileio as fileio

mode = sys.argv[2]
real_write = fileio.os.fdopen
if mode == "before-rename":
    def replace(src, dst):
        os.kill(os.getpid(), signal.SIGKILL)
    fileio.os.replace = replace
else:
    class Half:
        def __init__(self, f): self.f = f
        def __enter__(self): return self
        def __exit__(self, *a): self.f.close()
        def write(self, data):
            self.f.write(data[: len(data) // 2]); self.f.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        def __getattr__(self, name): return getattr(self.f, name)
    fileio.os.fdopen = lambda fd, mode: Half(real_write(fd, mode))
Tracker(Path(sys.argv[1])).resolve("Q-race-01", answer="新" * 5000)
"""


@pytest.mark.parametrize("mode", ["before-rename", "mid-write"])
def test_a_writer_killed_mid_write_leaves_the_old_file(
    tmp_path: Path, mode: str
) -> None:
    docs = _kb(tmp_path, 3)
    before = (docs / "race.md").read_bytes()
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, str(docs), mode], cwd=ROOT, capture_output=True
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    assert (docs / "race.md").read_bytes() == before
    leftovers = list(docs.glob(".race.md.*.tmp"))
    assert len(leftovers) == 1  # the killed writer's temp file, never the note
    # the lock died with the writer: the next edit goes through
    q = Tracker(docs).resolve("Q-race-01", answer="好", date="2026-01-01")
    assert q.status == "resolved"
    assert b"\xe5\xa5\xbd" in (docs / "race.md").read_bytes()


def test_a_failed_rename_leaves_the_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = _kb(tmp_path, 2)
    before = (docs / "race.md").read_bytes()

    def fail(src: str, dst: str) -> None:
        raise PermissionError(13, "Permission denied", dst)

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(StudyError, match="cannot write"):
        Tracker(docs).resolve("Q-race-02", answer="x")
    assert (docs / "race.md").read_bytes() == before
    assert not list(docs.glob(".*.tmp"))


def test_read_only_files_are_refused_even_for_root(tmp_path: Path) -> None:
    docs = _kb(tmp_path, 1)
    (docs / "race.md").chmod(0o444)
    with pytest.raises(StudyError, match="read-only"):
        Tracker(docs).resolve("Q-race-01")
    assert "[ ]" in (docs / "race.md").read_text(encoding="utf-8")


def test_atomic_write_keeps_permissions(tmp_path: Path) -> None:
    path = tmp_path / "n.md"
    path.write_text("old", encoding="utf-8")
    path.chmod(0o640)
    atomic_write(path, "新".encode())
    assert path.read_text(encoding="utf-8") == "新"
    assert path.stat().st_mode & 0o777 == 0o640
