"""``mkdocs serve`` notices saves through inotify, and skips what no page reads."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from mkdocs.livereload import LiveReloadServer

from dlnotes.site.watch import ignorable, use_inotify


@pytest.mark.parametrize(
    "rel",
    [
        "dlnotes/__pycache__/conv.cpython-311.pyc",
        "conv.pyc",
        ".obsidian/workspace.json",
        ".trash/old.md",
        "cnn/.git/index",
        ".pooling.md.1234-ab12cd34.tmp",
        "cnn/.pooling.md.swp",
        "cnn/pooling.md~",
        "cnn/.#pooling.md",
        "cnn/4913",
        ".DS_Store",
    ],
)
def test_changes_no_page_reads_are_skipped(rel: str) -> None:
    assert ignorable(rel)


@pytest.mark.parametrize(
    "rel",
    ["cnn/pooling.md", "cnn/.nav.yml", "inbox/新笔记.md", "numpy/conv.py", "."],
)
def test_changes_to_notes_and_code_are_seen(rel: str) -> None:
    assert not ignorable(rel)


def _server(tmp_path: Path) -> LiveReloadServer:
    return LiveReloadServer(
        builder=lambda: None, host="127.0.0.1", port=0, root=str(tmp_path / "site")
    )


def _rebuild_wanted(server: LiveReloadServer, within: float) -> bool:
    end = time.monotonic() + within
    while time.monotonic() < end:
        with server._rebuild_cond:
            if server._want_rebuild:
                server._want_rebuild = False
                return True
        time.sleep(0.01)
    return False


def test_a_save_is_seen_at_once_and_temp_files_are_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DLNOTES_WATCH", raising=False)
    docs = tmp_path / "docs"
    (docs / ".obsidian").mkdir(parents=True)
    (docs / "__pycache__").mkdir()
    note = docs / "note.md"
    note.write_text("# 笔记\n", "utf-8")
    config = tmp_path / "mkdocs.yml"
    config.write_text("site_name: x\n", "utf-8")
    server = _server(tmp_path)
    server.watch(str(docs))
    server.watch(str(config))  # inotify watches the folder the file is in
    assert use_inotify(server) == "inotify"
    # a watch MkDocs adds after on_serve (the `watch:` folders) is filtered too
    pkg = tmp_path / "pkg"
    (pkg / "__pycache__").mkdir(parents=True)
    server.watch(str(pkg))
    server.observer.start()
    server.observer.start()  # MkDocs' serve() starts it again: no error
    try:
        time.sleep(0.2)
        assert not _rebuild_wanted(server, 0.1)
        (docs / ".obsidian" / "workspace.json").write_text("{}", "utf-8")
        (docs / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
        (pkg / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"\0")
        (docs / ".note.md.swp").write_bytes(b"\0")
        note.read_text("utf-8")  # the build reads every note
        # beside mkdocs.yml: the serve log, the build caches
        (tmp_path / "serve.log").write_text("INFO - Building documentation...\n")
        (tmp_path / ".cache").mkdir()
        (tmp_path / ".cache" / "x.json").write_text("{}")
        # the polling observer would need up to 0.5 s to see a real save
        assert not _rebuild_wanted(server, 0.6)
        start = time.monotonic()
        with note.open("a", encoding="utf-8") as f:
            f.write("新的一句。\n")
        assert _rebuild_wanted(server, 2.0)
        assert time.monotonic() - start < 0.4
        # an editor's atomic save: write a temp file, rename it over the note
        tmp = docs / ".note.md.99-abcd.tmp"
        tmp.write_text("# 笔记\n\n改过。\n", "utf-8")
        assert not _rebuild_wanted(server, 0.3)
        tmp.replace(note)
        assert _rebuild_wanted(server, 2.0)
        (pkg / "m.py").write_text("x = 1\n", "utf-8")
        assert _rebuild_wanted(server, 2.0)
        config.write_text("site_name: y\n", "utf-8")
        assert _rebuild_wanted(server, 2.0)
    finally:
        server.observer.stop()
        server.observer.join()


def test_dlnotes_watch_poll_keeps_mkdocs_polling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DLNOTES_WATCH", "poll")
    (tmp_path / "docs").mkdir()
    server = _server(tmp_path)
    server.watch(str(tmp_path / "docs"))
    before = server.observer
    assert use_inotify(server) == "polling"
    assert server.observer is before
