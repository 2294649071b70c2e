"""dlnotes.train.command: what `dlnotes train` tells the user - the models in
--help, registry defaults that learn, a run stuck at chance, the summary line,
where a run resumed, and an interrupt reported on a fresh line."""

from __future__ import annotations

import argparse
import os
import pty
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from dlnotes.models import list_models, model_entry
from dlnotes.train.checkpoint import CHECKPOINT_NAME
from dlnotes.train.command import EXIT_AT_CHANCE, config_from_args, main, run
from dlnotes.train.config import add_arguments
from tests.support import ROOT

# 8x8 grey digits keep every run here to a few seconds
SMALL = ["--image-size", "8", "--in-channels", "1", "--epochs", "1", "--no-plot"]


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Small models run fastest on one thread (and the machine is shared)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")


def test_help_lists_every_registered_model() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "dlnotes", "train", "--help"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    text = " ".join(proc.stdout.split())  # argparse wraps the list
    for name in list_models():
        assert f" {name}," in text or f" {name} " in text, name


def test_a_mistyped_model_gets_one_line_with_the_nearest_names(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--model", "resnet5"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "unknown model 'resnet5'; did you mean resnet50" in err


def test_registry_defaults_sit_under_the_flags(tmp_path: Path) -> None:
    defaults = model_entry("cnn").train_defaults
    assert defaults  # the registry gives the small CNN its own settings
    config, _ = config_from_args(["--model", "cnn"])
    assert all(getattr(config, k) == v for k, v in defaults.items())
    config, _ = config_from_args(["--model", "cnn", "--lr", "0.3"])
    assert config.lr == 0.3  # a flag wins
    yml = tmp_path / "run.yaml"
    yml.write_text("model: cnn\nbatch_size: 16\n", encoding="utf-8")
    config, _ = config_from_args(["--config", str(yml)])
    assert config.batch_size == 16 and config.lr == defaults.get("lr", config.lr)


def test_cnn_with_its_defaults_learns_and_prints_one_summary_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The registry defaults on the default data (32x32 digits); one epoch."""
    out = tmp_path / "run"
    flags = ["--model", "cnn", "--epochs", "1", "--no-plot", "--no-progress"]
    code = main([*flags, "--out-dir", str(out)])
    err = capsys.readouterr().err.splitlines()
    assert code == 0 and len(err) == 1, err  # --no-progress: just the summary
    assert err[0].startswith("dlnotes train: done: 1 epoch, 44 steps, ")
    assert f"run folder {out}" in err[0]
    acc = float(err[0].split("test acc ")[1].split("%")[0])
    assert acc > 50  # chance is 10%


def test_a_run_at_chance_warns_and_exits_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = ["--model", "cnn", *SMALL, "--lr", "1e-6", "--no-progress"]
    code = main([*flags, "--out-dir", str(tmp_path)])
    err = capsys.readouterr().err.splitlines()
    assert code == EXIT_AT_CHANCE == 3
    assert err[0].startswith("warning: training accuracy ")
    assert "after the first epoch is at chance level" in err[0]
    assert err[1].startswith("dlnotes train: did not learn: 1 epoch, ")
    assert "try another --lr (this run: 1e-06)" in err[1]


def test_resume_says_where_it_resumed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = ["--model", "cnn", *SMALL, "--no-progress", "--out-dir", str(tmp_path)]
    assert main([*flags, "--max-steps", "5"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("dlnotes train: stopped at max_steps after 5 steps")
    assert main(["--resume", "--out-dir", str(tmp_path), "--no-progress"]) == 0
    err = capsys.readouterr().err.splitlines()
    ckpt = tmp_path / CHECKPOINT_NAME
    assert err[0] == f"resuming {ckpt} at step 5 (epoch 1, batch 5/44)"
    assert err[-1].startswith("dlnotes train: done: 1 epoch, 44 steps")


def _read_until(fd: int, wanted: bytes, seconds: float) -> bytes:
    out = b""
    deadline = time.monotonic() + seconds
    while wanted not in out and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
    return out


def test_interrupt_message_starts_on_a_fresh_line(tmp_path: Path) -> None:
    """Ctrl-C during a live progress bar (a terminal): the bar's line is ended
    before the message, which names the way to continue."""
    master, slave = pty.openpty()
    cmd = [sys.executable, "-m", "dlnotes.train", "--model", "cifar_resnet20"]
    cmd += [*SMALL, "--batch-size", "32", "--log-every", "1", "--epochs", "3"]
    cmd += ["--checkpoint-every-steps", "1", "--out-dir", str(tmp_path)]
    proc = subprocess.Popen(
        cmd, env=_env(), cwd=ROOT, stdin=slave, stdout=slave, stderr=slave
    )
    os.close(slave)
    try:
        seen = _read_until(master, b"] 3/44", 120)  # the bar is drawn, mid-epoch
        assert b"\r" in seen, seen.decode(errors="replace")
        proc.send_signal(signal.SIGINT)
        seen += _read_until(master, b"--resume", 60)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    text = seen.decode(errors="replace").replace("\r\n", "\n")
    assert proc.returncode == 130
    before, sep, message = text.partition("dlnotes train: interrupted")
    assert sep and before.endswith("\n"), text[-400:]
    assert message.startswith("; continue from the last checkpoint with --resume")


def test_bad_config_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("amp: fp32\n", encoding="utf-8")
    assert main(["--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "amp must be one of none, bf16, fp16" in err
    with pytest.raises(SystemExit) as info:
        main(["--lr", "fast"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--lr" in err
    assert main(["--dataset", "cifar10", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cifar-10-python.tar.gz" in err


def test_flags_work_as_a_dlnotes_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="dlnotes")
    sub = parser.add_subparsers(dest="command")
    add_arguments(sub.add_parser("train"))
    args = parser.parse_args(
        ["train", "--print-config", "--model", "cnn", "--milestones", "3", "4"]
    )
    assert run(args) == 0
    out = capsys.readouterr().out
    assert "model: cnn\n" in out and "- 3\n- 4\n" in out.replace("  ", "")
