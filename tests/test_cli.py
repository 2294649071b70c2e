"""The `dlnotes` command: tracker subcommands and `train`, without importing torch."""

from __future__ import annotations

import subprocess
import sys

from tests.support import ROOT


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dlnotes", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_help_lists_tracker_and_train_commands() -> None:
    proc = run("--help")
    assert proc.returncode == 0
    for name in ("questions", "resolve", "progress", "check", "import", "train"):
        assert name in proc.stdout


def test_building_the_cli_does_not_import_torch() -> None:
    code = (
        "import sys, dlnotes.cli as c; c.build_parser(); print('torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True
    )
    assert out.stdout.strip() == "False", out.stderr


def test_train_rejects_a_bad_config_with_one_line() -> None:
    proc = run("train", "--model", "no_such_model", "--epochs", "1")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "no_such_model" in proc.stderr


def test_the_real_notes_pass_the_linter() -> None:
    proc = run("check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
