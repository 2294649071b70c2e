"""The store: locked, atomic saves of a note that never lose a concurrent save."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import dlnotes.fileio as fileio
import dlnotes.kb.store as store
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


@pytest.mark.slow
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
    def replace(*args):
        os.kill(os.getpid(), signal.SIGKILL)
    fileio.os.replace = replace
    fileio._exchange = replace
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
    # the lock died with the writer: the next edit goes through, and removes the
    # temp file its dead owner left
    q = Tracker(docs).resolve("Q-race-01", answer="好", date="2026-01-01")
    assert q.status == "resolved"
    assert b"\xe5\xa5\xbd" in (docs / "race.md").read_bytes()
    assert not list(docs.glob(".race.md.*.tmp"))


def test_a_failed_rename_leaves_the_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = _kb(tmp_path, 2)
    before = (docs / "race.md").read_bytes()

    def fail(src: str, dst: str, *flags: int) -> None:
        raise PermissionError(13, "Permission denied", dst)

    monkeypatch.setattr(os, "replace", fail)
    monkeypatch.setattr(fileio, "_exchange", fail)
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


# --------------------------------------------------------------------------- #
# Saves by another program (the user's editor) while an edit runs
# --------------------------------------------------------------------------- #

USER_LINE = "用户在编辑器里写的一行\r\n"


def _user_save(path: Path) -> None:
    """What Obsidian or VS Code do on save: rewrite the file in place."""
    text = path.read_bytes().decode()
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text + USER_LINE)


@pytest.fixture(params=["exchange", "hash-then-replace"])
def replace_mode(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> str:
    """Run a test with the Linux exchange and with the portable fallback."""
    if request.param == "hash-then-replace":
        monkeypatch.setattr(fileio, "_exchange", lambda a, b: False)
    return str(request.param)


def _exchange_works(tmp_path: Path) -> bool:
    a, b = tmp_path / "xa", tmp_path / "xb"
    a.write_text("a")
    b.write_text("b")
    try:
        return fileio._exchange(a, b)
    finally:
        a.unlink()
        b.unlink()


def test_a_save_right_before_the_replace_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, replace_mode: str
) -> None:
    docs = _kb(tmp_path, 3)
    note = docs / "race.md"
    if replace_mode == "exchange" and not _exchange_works(tmp_path):
        pytest.skip("this file system cannot exchange two files")
    saves = []
    real_exchange, real_hash = fileio._exchange, fileio.sha256_file

    def save_first(real: Any) -> Any:
        def run(a: Any, b: Any = None) -> Any:
            if not saves:  # the user's editor saves in the last instant
                saves.append(1)
                _user_save(note)
            return real(a, b)

        return run

    if replace_mode == "exchange":
        monkeypatch.setattr(fileio, "_exchange", save_first(real_exchange))
    else:  # no exchange: the save lands right before the last check of the file
        monkeypatch.setattr(
            fileio, "sha256_file", save_first(lambda p, _: real_hash(p))
        )
    q = Tracker(docs).resolve("Q-race-02", answer="答", date="2026-01-02")
    text = note.read_bytes().decode()
    assert saves == [1]
    assert text.endswith(USER_LINE)  # the user's save survived ...
    assert (q.status, q.answer) == ("resolved", "答")  # ... and so did the edit
    assert "#Q-race-02 ✅ 2026-01-02\r\n" in text
    assert not list(docs.glob(".*.tmp")) and not list(docs.glob(".*conflict*"))


def test_a_save_between_read_and_write_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = _kb(tmp_path, 2)
    note = docs / "race.md"
    calls = []
    real_verify = store.verify_edit

    def verify(*args: Any, **kwargs: Any) -> Any:
        if not calls:
            _user_save(note)
        calls.append(1)
        return real_verify(*args, **kwargs)

    monkeypatch.setattr(store, "verify_edit", verify)
    Tracker(docs).resolve("Q-race-01", date="2026-01-03")
    text = note.read_bytes().decode()
    assert len(calls) == 2  # read again and the edit applied again
    assert text.endswith(USER_LINE)
    assert "#Q-race-01 ✅ 2026-01-03" in text


def test_an_edit_the_save_made_impossible_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = _kb(tmp_path, 2)
    note = docs / "race.md"
    real_verify = store.verify_edit
    users = "# 用户删掉了所有问题\n"

    def verify(*args: Any, **kwargs: Any) -> Any:
        if note.read_text(encoding="utf-8") != users:
            note.write_text(users, encoding="utf-8")
        return real_verify(*args, **kwargs)

    monkeypatch.setattr(store, "verify_edit", verify)
    with pytest.raises(StudyError, match=r"Q-race-01 is no longer on race\.md"):
        Tracker(docs).resolve("Q-race-01")
    assert note.read_text(encoding="utf-8") == users


STORM_WRITER = """
import os, random, sys, time
from pathlib import Path
note, stop = Path(sys.argv[1]), Path(sys.argv[2])
k = 0
while not stop.exists():
    k += 1
    text = note.read_bytes().decode()
    data = (text + f"用户第 {k} 次保存\\n").encode()
    if k % 2:  # in place, as VS Code and Obsidian save
        with open(note, "wb") as f:
            f.write(data)
    else:  # a temp file renamed over the note, as vim and gedit save
        tmp = note.with_name(f"{note.name}~{k}")
        tmp.write_bytes(data)
        os.replace(tmp, note)
    time.sleep(random.uniform(0.005, 0.05))  # a save every 5-50 ms
print(k)
"""


@pytest.mark.slow
def test_a_save_storm_loses_no_save(tmp_path: Path) -> None:
    docs = _kb(tmp_path, 40)
    note = docs / "race.md"
    stop = tmp_path / "stop"
    writer = subprocess.Popen(
        [sys.executable, "-c", STORM_WRITER, str(note), str(stop)],
        stdout=subprocess.PIPE,
        text=True,
    )
    tracker = Tracker(docs)
    refused = 0
    extra = 0
    try:
        deadline = time.monotonic() + 20
        while "用户第 1 次保存" not in note.read_text(encoding="utf-8"):
            assert time.monotonic() < deadline, "the writer did not start"
            time.sleep(0.01)
        for n in range(80):
            qid = f"Q-race-{n % 40 + 1:02d}"
            try:
                if n < 40:
                    tracker.resolve(qid, date="2026-01-04")
                else:
                    tracker.reopen(qid)
            except StudyError:
                refused += 1  # read while the editor was half way through a save
        # on an idle machine 80 edits can end before the storm has built up: keep
        # editing until the user has saved at least 21 times (bounded)
        deadline = time.monotonic() + 30
        while "用户第 21 次保存".encode() not in note.read_bytes():
            assert time.monotonic() < deadline, "the writer stopped saving"
            try:
                if extra % 2:
                    tracker.reopen("Q-race-01")
                else:
                    tracker.resolve("Q-race-01", date="2026-01-04")
            except StudyError:
                refused += 1
            extra += 1
    finally:
        stop.touch()
        out, _ = writer.communicate(timeout=30)
    saves = int(out)
    text = note.read_bytes().decode()
    lost = [k for k in range(1, saves + 1) if f"用户第 {k} 次保存\n" not in text]
    assert lost == []
    assert saves > 20
    assert not list(docs.glob(".*.tmp"))
    assert refused < 40 + extra // 2  # refused edits lose nothing; most still land
    assert len(parse_page(text, "race.md").questions) == 40
