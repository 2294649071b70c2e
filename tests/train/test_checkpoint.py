"""dlnotes.train.checkpoint: the checksummed file format of checkpoints and model
files, refusal of corrupt and code-running files, old files without a checksum."""

from __future__ import annotations

import os
import stat
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch

from dlnotes.fileio import current_umask
from dlnotes.train import TrainConfig, train
from dlnotes.train.checkpoint import (
    CHECKPOINT_NAME,
    MODEL_NAME,
    CheckpointError,
    UnverifiedCheckpointWarning,
    load_file,
    load_training_checkpoint,
    save_file,
)
from dlnotes.train.command import main
from dlnotes.transfer import load_checkpoint, load_pretrained

TINY: dict[str, Any] = {
    "model": "cnn",
    "model_kwargs": {"channels": [4], "hidden_features": []},
    "dataset": "digits",
    "image_size": 8,
    "batch_size": 64,
    "epochs": 1,
    "progress": False,
    "plot": False,
}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real run: its checkpoint.pt and model.pt."""
    out = tmp_path_factory.mktemp("run")
    train(TrainConfig(**TINY, out_dir=str(out)))
    return out


def _flip(data: bytes, offset: int, bit: int) -> bytes:
    out = bytearray(data)
    out[offset] ^= 1 << bit
    return bytes(out)


def _offsets(size: int, count: int) -> list[int]:
    """``count`` offsets spread over the file, plus its first and last bytes."""
    spread = {round(i * (size - 1) / (count - 1)) for i in range(count)}
    return sorted(spread | {0, 1, 2, 3, size - 81, size - 40, size - 2, size - 1})


def test_every_flipped_bit_is_refused_with_one_line(
    run_dir: Path, tmp_path: Path
) -> None:
    good = (run_dir / CHECKPOINT_NAME).read_bytes()
    path = tmp_path / CHECKPOINT_NAME
    offsets = _offsets(len(good), 64)
    for i, offset in enumerate(offsets):
        path.write_bytes(_flip(good, offset, i % 8))
        with pytest.raises(CheckpointError) as info:
            load_training_checkpoint(path)
        assert str(info.value) == f"{path} is corrupt: checksum mismatch", offset
    assert len(offsets) >= 64
    path.write_bytes(good)  # the untouched file loads, and plain torch reads it too
    assert load_training_checkpoint(path)["position"]["step"] == 1437 // 64
    plain = torch.load(path, weights_only=True)
    assert torch.equal(
        plain["model"]["fc.weight"], torch.load(path)["model"]["fc.weight"]
    )


def test_a_flipped_model_file_is_refused(run_dir: Path, tmp_path: Path) -> None:
    good = (run_dir / MODEL_NAME).read_bytes()
    path = tmp_path / MODEL_NAME
    for i, offset in enumerate(_offsets(len(good), 16)):
        path.write_bytes(_flip(good, offset, (i * 3) % 8))
        with pytest.raises(ValueError, match=r"is corrupt: checksum mismatch$"):
            load_pretrained(path)
    path.write_bytes(good)
    assert load_checkpoint(path).model_name == "cnn"


def test_resume_from_a_corrupt_checkpoint_exits_2_with_one_line(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = (run_dir / CHECKPOINT_NAME).read_bytes()
    path = tmp_path / CHECKPOINT_NAME
    path.write_bytes(_flip(good, len(good) // 2, 5))
    assert main(["--resume", "--out-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == f"dlnotes train: error: {path} is corrupt: checksum mismatch\n"


def test_a_truncated_file_is_corrupt(run_dir: Path, tmp_path: Path) -> None:
    good = (run_dir / CHECKPOINT_NAME).read_bytes()
    path = tmp_path / CHECKPOINT_NAME
    for size in (len(good) // 3, len(good) - 100):
        path.write_bytes(good[:size])
        with pytest.raises(CheckpointError, match="is corrupt: truncated"):
            load_training_checkpoint(path)
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_file(path)


def test_files_get_ordinary_modes(tmp_path: Path) -> None:
    path = save_file({"x": torch.ones(2)}, tmp_path / "sub" / "a.pt")
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~current_umask()
    os.chmod(path, 0o640)
    save_file({"x": torch.zeros(2)}, path)  # a rewrite keeps the file's mode
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [p.name for p in path.parent.iterdir()] == ["a.pt"]  # no temp file left


def test_an_old_checkpoint_without_checksum_loads_with_a_warning(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = load_training_checkpoint(run_dir / CHECKPOINT_NAME)
    old = tmp_path / "old" / CHECKPOINT_NAME
    old.parent.mkdir()
    torch.save(state, old)  # what dlnotes wrote before checksums
    with pytest.warns(UnverifiedCheckpointWarning, match="has no checksum"):
        again = load_training_checkpoint(old)
    assert torch.equal(again["model"]["fc.weight"], state["model"]["fc.weight"])
    # the command line says so in one line and resumes (nothing left to train)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the CLI prints it instead of warning
        code = main(["--resume", "--out-dir", str(old.parent), "--no-progress"])
    assert code == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("dlnotes train: warning: ") and "no checksum" in err[0]


class _Payload:
    """Unpickling this calls ``open(marker, "w")``, creating a file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize("sealed", [False, True])
def test_checkpoint_that_would_run_code_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sealed: bool
) -> None:
    """A valid checksum proves nothing about intent: weights_only still refuses."""
    marker = tmp_path / "pwned"
    path = tmp_path / "run" / CHECKPOINT_NAME
    path.parent.mkdir()
    evil = {"format": "dlnotes.train.checkpoint", "x": _Payload(marker)}
    if sealed:
        save_file(evil, path)
    else:
        torch.save(evil, path)
    with pytest.raises(CheckpointError, match="refusing to load"):
        load_training_checkpoint(path)
    assert not marker.exists()
    assert main(["--resume", "--out-dir", str(path.parent)]) == 2
    assert "refusing to load" in capsys.readouterr().err
    assert not marker.exists()
    torch.load(path, weights_only=False)  # the payload is live without the guard
    assert marker.exists()
