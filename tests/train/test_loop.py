"""dlnotes.train: config and flags, schedules, metrics files, exact resume after a
real SIGKILL, NaN stop, 2-process DDP."""

from __future__ import annotations

import json
import os
import runpy
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from dlnotes.train import (
    CHECKPOINT_NAME,
    CheckpointError,
    TrainConfig,
    TrainingDiverged,
    load_training_checkpoint,
    main,
    train,
)
from dlnotes.transfer import load_pretrained

ROOT = Path(__file__).resolve().parents[2]

# A tiny CNN without BatchNorm on 8x8 digits: fast, and exactly comparable
# between one process and DDP (BN would normalise per-rank shards).
TINY: dict[str, Any] = {
    "model": "cnn",
    "model_kwargs": {"channels": [8], "hidden_features": []},
    "dataset": "digits",
    "image_size": 8,
    "batch_size": 32,
    "lr": 0.05,
    "progress": False,
}


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """One thread, like the subprocesses (OMP_NUM_THREADS=1): runs compared bit
    for bit must use the same number of threads (and tiny models run fastest)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _without_times(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {k: v for k, v in r.items() if k not in ("images_per_s", "epoch_time_s")}
        for r in history
    ]


# ---------------------------------------------------------------------------
# a run: metrics files, plot, model file
# ---------------------------------------------------------------------------


def test_run_writes_metrics_plot_and_a_reusable_model(tmp_path: Path) -> None:
    config = TrainConfig(**TINY, epochs=2, schedule="constant", out_dir=str(tmp_path))
    result = train(config)
    rows = (tmp_path / "metrics.csv").read_text(encoding="utf-8").splitlines()
    assert rows[0].startswith("epoch,step,lr,train_loss,train_acc,test_loss,test_acc")
    assert len(rows) == 3
    jsonl = [json.loads(line) for line in (tmp_path / "metrics.jsonl").open()]
    assert [r["epoch"] for r in jsonl] == [1, 2]
    assert jsonl[1]["step"] == 2 * (1437 // 32)  # 1437 training digits, full batches
    assert jsonl[1]["test_acc"] > 0.8  # it learns: chance is 0.1
    assert jsonl[1]["train_loss"] < jsonl[0]["train_loss"]
    assert (tmp_path / "metrics.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the exported model carries its preprocessing and predicts like the run's model
    reused = load_pretrained(tmp_path / "model.pt")
    assert reused.preprocessing == result.preprocessing
    x = torch.rand(4, 3, 8, 8)
    result.model.eval()
    assert torch.allclose(reused.model(x), result.model(x))
    ckpt = load_training_checkpoint(tmp_path / CHECKPOINT_NAME)
    assert ckpt["position"] == ckpt["position"] | {"epoch": 2, "batch": 0, "step": 88}
    assert ckpt["config"]["lr"] == 0.05 and len(ckpt["history"]) == 2


def _tiny_cifar10(root: Path) -> None:
    """CIFAR-10 in the official pickle layout, 20 training and 10 test images."""
    import pickle

    import numpy as np

    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for i, name in enumerate(names):
        n = 4 if i < 5 else 10
        batch = {
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            b"labels": [int(v) for v in rng.integers(0, 10, n)],
        }
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    meta = {b"label_names": [f"c{i}".encode() for i in range(10)]}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))


def test_trains_on_cifar_and_on_an_image_folder(tmp_path: Path) -> None:
    from PIL import Image

    _tiny_cifar10(tmp_path / "data")
    cifar = train(
        TrainConfig(
            **{**TINY, "dataset": "cifar10", "batch_size": 8},
            data_dir=str(tmp_path / "data"),
            epochs=1,
            out_dir=str(tmp_path / "cifar"),
        )
    )
    assert cifar.step == 20 // 8 and cifar.preprocessing.input_size == (32, 32)
    assert cifar.history[0]["test_acc"] is not None  # 10 test images evaluated
    for k, colour in enumerate([(0, 0, 0), (255, 255, 255)]):
        (tmp_path / "folder" / f"class{k}").mkdir(parents=True)
        for i in range(6):
            img = Image.new("RGB", (12 + i, 10), colour)
            img.save(tmp_path / "folder" / f"class{k}" / f"{i}.png")
    folder = train(
        TrainConfig(
            **{**TINY, "dataset": "imagefolder", "batch_size": 4},
            data_dir=str(tmp_path / "folder"),
            test_fraction=0.25,
            epochs=3,
            schedule="constant",
            num_workers=0,
            out_dir=str(tmp_path / "run"),
        )
    )
    assert folder.step == 3 * (8 // 4)  # 8 training images, 4 held out
    assert folder.history[-1]["test_acc"] == 1.0  # black vs white


# ---------------------------------------------------------------------------
# resume
# ---------------------------------------------------------------------------

# ResNet-20 with BN (running statistics must resume too) and the paper's
# crop-and-flip augmentation (its randomness must resume too).
RESNET: dict[str, Any] = {
    **TINY,
    "model": "cifar_resnet20",
    "model_kwargs": {},
    "augment": "crop-flip",
    "batch_size": 64,
    "epochs": 2,
    "checkpoint_every_steps": 5,
}


def _flags(values: dict[str, Any]) -> list[str]:
    out = []
    for key, value in values.items():
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            out.append(flag if value else "--no-" + flag[2:])
        else:
            out += [flag, json.dumps(value) if isinstance(value, dict) else str(value)]
    return out


@pytest.mark.slow
def test_killed_run_resumes_to_exactly_the_same_weights(tmp_path: Path) -> None:
    killed = tmp_path / "killed"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "dlnotes.train", *_flags(RESNET)]
    proc = subprocess.Popen(
        [*cmd, "--out-dir", str(killed)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    ckpt = killed / CHECKPOINT_NAME
    deadline = time.monotonic() + 120
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)  # no cleanup, no last checkpoint
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, err.decode()
    at = load_training_checkpoint(ckpt)["position"]["step"]
    assert 5 <= at < 44 and at % 5 == 0
    assert not (killed / "model.pt").exists()

    # continue in a new process (this one): only --resume and the run folder
    assert main(["--resume", "--out-dir", str(killed), "--no-progress"]) == 0
    resumed = load_training_checkpoint(ckpt)
    full = train(TrainConfig(**RESNET, out_dir=str(tmp_path / "full")))
    assert resumed["position"]["step"] == full.step == 44
    assert _same_weights(resumed["model"], full.model.state_dict())
    assert _without_times(resumed["history"]) == _without_times(full.history)


@pytest.mark.parametrize("stop", [30, 44])  # mid-epoch, and at the epoch's end
def test_stop_at_max_steps_then_resume(tmp_path: Path, stop: int) -> None:
    # no epoch checkpoints: the stop itself must leave one
    config = {**TINY, "epochs": 2, "checkpoint_every_epochs": 0}
    part = train(TrainConfig(**config, max_steps=stop, out_dir=str(tmp_path / "a")))
    assert part.stopped_early and part.step == stop
    assert len(part.history) == stop // 44  # 44 steps per epoch
    with pytest.raises(CheckpointError, match=r"lr: 0\.05 -> 0\.1"):
        train(
            TrainConfig(
                **{**config, "lr": 0.1}, resume=True, out_dir=part.run_dir.as_posix()
            )
        )
    done = train(TrainConfig(**config, resume=True, out_dir=str(tmp_path / "a")))
    full = train(TrainConfig(**config, out_dir=str(tmp_path / "b")))
    assert done.step == full.step == 88 and not done.stopped_early
    assert _same_weights(done.model.state_dict(), full.model.state_dict())
    assert _without_times(done.history) == _without_times(full.history)


# ---------------------------------------------------------------------------
# divergence
# ---------------------------------------------------------------------------


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path: Path) -> None:
    config = TrainConfig(
        **{**TINY, "lr": 1e3},
        epochs=1,
        schedule="constant",
        checkpoint_every_steps=1,
        out_dir=str(tmp_path),
    )
    with pytest.raises(TrainingDiverged) as info:
        train(config)
    message = str(info.value)
    bad = int(message.split("at step ")[1].split()[0])
    assert bad > 1 and str(tmp_path / CHECKPOINT_NAME) in message
    ckpt = load_training_checkpoint(tmp_path / CHECKPOINT_NAME)
    assert ckpt["position"]["step"] == bad - 1  # the step before the bad one
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values())


# ---------------------------------------------------------------------------
# DistributedDataParallel, 2 CPU processes with gloo
# ---------------------------------------------------------------------------

WORKER = textwrap.dedent(
    """
    import json, os, sys
    import torch
    from dlnotes.train import TrainConfig, train

    result = train(TrainConfig(**json.loads(sys.argv[1])))
    state = result.model.state_dict()
    torch.save(state, os.path.join(sys.argv[2], f"rank{os.environ['RANK']}.pt"))
    """
)


@pytest.mark.slow
def test_ddp_two_processes_match_one_process(tmp_path: Path) -> None:
    # TINY has no BatchNorm, so the only difference between one process with
    # batch 32 and two with 16 each is the order of floating-point additions.
    config = {**TINY, "epochs": 2, "out_dir": str(tmp_path / "ddp")}
    worker = tmp_path / "worker.py"
    worker.write_text(WORKER, encoding="utf-8")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            str(worker),
            json.dumps(config),
            str(tmp_path),
        ],
        env=dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rank0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert _same_weights(rank0, rank1)
    single = train(TrainConfig(**{**config, "out_dir": str(tmp_path / "single")}))
    for key, value in single.model.state_dict().items():
        torch.testing.assert_close(rank0[key], value, rtol=1e-4, atol=1e-5)
    assert single.history[-1]["test_acc"] > 0.8  # the weights did train
    # only rank 0 wrote the run folder: one row per epoch, one checkpoint
    rows = (tmp_path / "ddp" / "metrics.csv").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 3
    saved = load_training_checkpoint(tmp_path / "ddp" / CHECKPOINT_NAME)
    assert saved["position"]["world_size"] == 2
    assert _same_weights(saved["model"], rank0)


# ---------------------------------------------------------------------------
# the GPU benchmark script
# ---------------------------------------------------------------------------


def test_gpu_benchmark_exits_cleanly_without_cuda(
    capsys: pytest.CaptureFixture[str],
) -> None:
    if torch.cuda.is_available():
        pytest.skip("a GPU is here: run scripts/bench_train_gpu.py itself")
    script = runpy.run_path(str(ROOT / "scripts" / "bench_train_gpu.py"), run_name="x")
    assert script["main"]([]) == 0
    assert capsys.readouterr().out.startswith("CUDA not available: skipped")
