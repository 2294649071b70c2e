"""The training engine behind ``dlnotes train``.

One command trains any registered model (:mod:`dlnotes.models`) on digits,
synthetic data, CIFAR-10/100 or an image folder (:mod:`dlnotes.train.data`) with SGD +
momentum and the ResNet paper's schedule (arXiv:1512.03385, section 4.2: lr 0.1,
divided by 10 at 32k and 48k iterations, weight decay 1e-4, momentum 0.9,
batch 128), or a cosine schedule. It

* shows a progress bar per epoch (loss, accuracy, images/s) and writes
  ``metrics.csv``, ``metrics.jsonl`` and ``metrics.png`` to the run folder;
* writes checkpoints atomically (model, optimiser, scheduler, grad scaler, RNG
  states, config, preprocessing, position in the data order); ``--resume``
  continues a killed run, and on the CPU the resumed run ends with exactly the
  weights of an uninterrupted one;
* reads checkpoints with ``torch.load(weights_only=True)``: a file that would run
  code when unpickled is refused;
* stops on a NaN/inf loss, naming the step, leaving the last good checkpoint;
* runs unchanged under ``torchrun --nproc_per_node=N`` (DistributedDataParallel,
  DistributedSampler, gloo on CPU, NCCL on GPU; rank 0 writes all files);
* optionally uses bf16/fp16 autocast, ``channels_last`` and ``torch.compile``.

>>> from dlnotes.train import TrainConfig, train
>>> result = train(TrainConfig(model="cnn", dataset="digits", epochs=1))
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import io
import json
import math
import os
import pickle
import random
import sys
import tempfile
import time
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
import yaml
from torch import Tensor, nn
from torch.utils.data import DataLoader, DistributedSampler

from dlnotes.models import create_model, model_entry
from dlnotes.train.config import (
    TrainConfig,
    build_parser,
    config_from_namespace,
)
from dlnotes.train.data import (
    DataBundle,
    DatasetNotFoundError,
    TensorImageDataset,
    batch_generator,
    load_dataset,
    normalize,
    random_crop_flip,
)
from dlnotes.transfer import Preprocessing, save_checkpoint

__all__ = [
    "CHECKPOINT_NAME",
    "CheckpointError",
    "ProgressBar",
    "TrainConfig",
    "TrainResult",
    "TrainingDiverged",
    "build_parser",
    "config_from_args",
    "load_training_checkpoint",
    "lr_factor",
    "main",
    "plot_history",
    "save_atomic",
    "train",
]

_UMASK = os.umask(0o022)
os.umask(_UMASK)  # read the process umask (there is no getter)

CHECKPOINT_NAME = "checkpoint.pt"
MODEL_NAME = "model.pt"
_FORMAT = "dlnotes.train.checkpoint"


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the message names the step."""


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable, refused, or from another run."""


def config_from_args(
    args: Sequence[str] | argparse.Namespace | None = None,
) -> tuple[TrainConfig, bool]:
    """The config of a command line: defaults, then the ``--config`` file, then
    the flags. ``args`` is an argv list or an already parsed namespace.

    With ``--resume`` the run's saved config is the base instead of the
    defaults, so ``dlnotes train --resume --out-dir runs/x`` continues run x.
    Returns ``(config, print_only)``; raises ValueError on a bad value.
    """
    if not isinstance(args, argparse.Namespace):
        args = build_parser().parse_args(args)
    explicit, _, print_only = config_from_namespace(args)
    config = TrainConfig.from_dict(explicit)
    if config.resume:
        ckpt_path = config.run_dir() / CHECKPOINT_NAME
        if ckpt_path.is_file():
            saved = dict(load_training_checkpoint(ckpt_path)["config"])
            for key in ("max_steps", "resume"):  # a stop is not part of the run
                saved.pop(key, None)
            config = TrainConfig.from_dict(explicit, TrainConfig.from_dict(saved))
    return config, print_only


# ---------------------------------------------------------------------------
# Learning-rate schedule
# ---------------------------------------------------------------------------


# --8<-- [start:lr-schedule]
def lr_factor(step: int, config: TrainConfig, steps_per_epoch: int) -> float:
    """Multiplier of ``config.lr`` at optimiser step ``step`` (0-based).

    ``step``: divide by ``1/gamma`` at each milestone; the default milestones are
    50% and 75% of training, the paper's 32k and 48k of 64k iterations.
    ``cosine``: ``(1 + cos(pi t / T)) / 2`` from 1 to 0 (arXiv:1608.03983).
    A linear warm-up over the first ``warmup_steps`` multiplies either.
    """
    total = config.epochs * steps_per_epoch
    warm = min(1.0, (step + 1) / config.warmup_steps) if config.warmup_steps else 1.0
    if config.schedule == "constant":
        return warm
    if config.schedule == "cosine":
        t = max(0, step - config.warmup_steps)
        span = max(1, total - config.warmup_steps)
        return warm * 0.5 * (1 + math.cos(math.pi * min(t, span) / span))
    if config.milestones:
        unit = steps_per_epoch if config.milestones_unit == "epoch" else 1
        milestones = [m * unit for m in config.milestones]
    else:
        milestones = [round(total * 0.5), round(total * 0.75)]
    passed = sum(step >= m for m in milestones)
    return warm * config.gamma**passed


# --8<-- [end:lr-schedule]


# ---------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------


# --8<-- [start:save-atomic]
def save_atomic(obj: Any, path: Path) -> None:
    """``torch.save`` to a temporary file in the same folder, fsync it, and
    rename it over ``path`` (``os.replace`` is atomic): a crash at any moment
    leaves either the old checkpoint or the new one, never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes it private (0600)
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())  # the bytes are on disk ...
        os.replace(tmp, path)  # ... before the name points at them
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    with contextlib.suppress(OSError):  # make the rename durable too
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


# --8<-- [end:save-atomic]


# --8<-- [start:rng-state]
def rng_state() -> dict[str, Any]:
    """Python, NumPy, torch CPU and CUDA generator states as tensors and plain
    numbers, so that ``torch.load(weights_only=True)`` can read them back."""
    version, mt, gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = typing.cast(
        tuple[str, np.ndarray, int, int, float], np.random.get_state()
    )
    return {
        "python": {"version": version, "state": torch.tensor(mt), "gauss": gauss},
        "numpy": {
            "name": np_name,
            "keys": torch.from_numpy(np_keys.astype(np.int64)),
            "pos": int(np_pos),
            "has_gauss": int(np_has_gauss),
            "gauss": float(np_gauss),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what :func:`rng_state` saved."""
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"].tolist()), py["gauss"]))
    n = state["numpy"]
    keys = n["keys"].numpy().astype(np.uint32)
    np.random.set_state((n["name"], keys, n["pos"], n["has_gauss"], n["gauss"]))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"][: torch.cuda.device_count()])


# --8<-- [end:rng-state]


def load_training_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a training checkpoint with ``torch.load(weights_only=True)``.

    Only tensors and plain containers are accepted: a pickle that would import a
    function or build an arbitrary object (the way malicious ``.pt`` files run
    code) is refused with :class:`CheckpointError` before anything runs.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as exc:
        raise CheckpointError(
            f"refusing to load {path}: not a plain-data checkpoint ({_reason(exc)})"
        ) from exc
    if not isinstance(obj, dict) or obj.get("format") != _FORMAT:
        raise CheckpointError(f"{path} is not a dlnotes training checkpoint")
    return obj


def _reason(exc: BaseException) -> str:
    """The informative line of torch's long weights_only error message."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    for ln in lines:
        if ln.startswith("WeightsUnpickler error:"):
            return ln.removeprefix("WeightsUnpickler error:").strip().split(". ")[0]
    return lines[0] if lines else type(exc).__name__


# Fields that define the trajectory of a run: a resumed run must keep them.
_RUN_IDENTITY = [
    *("model", "model_kwargs", "dataset", "image_size", "in_channels"),
    *("num_classes", "digits_mode", "synthetic_train", "synthetic_test"),
    *("test_fraction", "augment", "mean", "std", "batch_size", "epochs", "lr"),
    *("momentum", "nesterov", "weight_decay", "schedule", "milestones"),
    *("milestones_unit", "gamma", "warmup_steps", "seed", "amp"),
]


# ---------------------------------------------------------------------------
# Progress bar and metrics files
# ---------------------------------------------------------------------------


class ProgressBar:
    """A one-line progress bar on ``stream`` (stderr), redrawn with ``\\r``.

    When ``stream`` is not a terminal only the final line of each bar is
    written, so log files stay readable.
    """

    def __init__(
        self,
        total: int,
        desc: str,
        *,
        stream: TextIO | None = None,
        enabled: bool = True,
        width: int = 24,
    ) -> None:
        self.total, self.desc, self.width = total, desc, width
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.live = enabled and self.stream.isatty()
        self.line = ""

    def update(self, done: int, fields: Mapping[str, str]) -> None:
        """Redraw with ``done`` of ``total`` and ``fields`` (name -> text)."""
        frac = done / self.total if self.total else 1.0
        filled = round(self.width * frac)
        bar = "#" * filled + "." * (self.width - filled)
        info = " ".join(f"{k} {v}" if k else v for k, v in fields.items())
        self.line = f"{self.desc} [{bar}] {done}/{self.total} {info}"
        if self.live:
            self.stream.write("\r" + self.line + "\x1b[K")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write(("\r" if self.live else "") + self.line + "\n")
            self.stream.flush()


_METRIC_KEYS = [
    *("epoch", "step", "lr", "train_loss", "train_acc", "test_loss", "test_acc"),
    *("images_per_s", "epoch_time_s"),
]


def _write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_metrics(history: Sequence[Mapping[str, Any]], run_dir: Path) -> None:
    """``metrics.csv`` and ``metrics.jsonl`` (one row per epoch), rewritten whole
    from ``history`` so that a resumed run never repeats or loses a row."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=_METRIC_KEYS, lineterminator="\n")
    writer.writeheader()
    for row in history:
        writer.writerow({k: "" if row.get(k) is None else row[k] for k in _METRIC_KEYS})
    _write_text_atomic(run_dir / "metrics.csv", buf.getvalue())
    lines = "".join(json.dumps(dict(row)) + "\n" for row in history)
    _write_text_atomic(run_dir / "metrics.jsonl", lines)


def plot_history(history: Sequence[Mapping[str, Any]]) -> Any:
    """A matplotlib Figure: loss and accuracy per epoch, train and test."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.4), layout="constrained")
    ax_loss, ax_acc = fig.subplots(1, 2)
    epochs = [r["epoch"] for r in history]
    for ax, key, label in ((ax_loss, "loss", "loss"), (ax_acc, "acc", "accuracy")):
        for split, style in (("train", "-o"), ("test", "--s")):
            pts = [
                (e, r[f"{split}_{key}"])
                for e, r in zip(epochs, history, strict=True)
                if r.get(f"{split}_{key}") is not None
            ]
            if pts:
                ax.plot(*zip(*pts, strict=True), style, ms=3, label=split)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    ax_loss.set_title("cross-entropy loss")
    ax_acc.set_title("accuracy")
    return fig


# ---------------------------------------------------------------------------
# Distributed set-up (torchrun)
# ---------------------------------------------------------------------------


@dataclass
class _Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owned: bool = False  # we called init_process_group, so we destroy it

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _init_distributed(device_type: str) -> _Dist:
    """Join the process group that ``torchrun`` describes in the environment
    (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT); gloo on the CPU,
    NCCL on GPUs. Without those variables: a single process."""
    if dist.is_available() and dist.is_initialized():
        return _Dist(
            dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0))
        )
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return _Dist()
    backend = "nccl" if device_type == "cuda" else "gloo"
    dist.init_process_group(backend=backend, init_method="env://")
    return _Dist(
        dist.get_rank(),
        dist.get_world_size(),
        int(os.environ.get("LOCAL_RANK", 0)),
        owned=True,
    )


def _resolve_device(config: TrainConfig, local_rank: int) -> torch.device:
    if config.device == "cpu" or (
        config.device == "auto" and not torch.cuda.is_available()
    ):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ValueError("device must be cpu or auto here: CUDA is not available")
    device = torch.device("cuda", local_rank % torch.cuda.device_count())
    torch.cuda.set_device(device)
    return device


def _all_reduce(values: list[float], d: _Dist, device: torch.device) -> list[float]:
    if not d.enabled:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


# ---------------------------------------------------------------------------
# The training step
# ---------------------------------------------------------------------------


# --8<-- [start:train-step]
def train_step(
    net: nn.Module,
    x: Tensor,
    y: Tensor,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    autocast: Callable[[], contextlib.AbstractContextManager[Any]],
) -> tuple[Tensor, Tensor]:
    """One SGD step on the batch ``x`` ``(N, C, H, W)``, ``y`` ``(N,)``.

    The forward pass runs under ``autocast`` (bf16/fp16 or nothing); with fp16
    the loss is scaled before backward so small gradients do not underflow, and
    the scaler skips the step if a gradient overflowed. Returns the loss and
    the number of correct predictions, as tensors (no GPU sync here).
    """
    with autocast():
        logits = net(x)  # (N, num_classes)
        loss = F.cross_entropy(logits, y)  # mean over the batch
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()  # DDP all-reduces (averages) gradients here
    scaler.step(optimizer)
    scaler.update()
    correct = (logits.detach().argmax(dim=1) == y).sum()
    return loss.detach(), correct


# --8<-- [end:train-step]


@dataclass
class TrainResult:
    """What :func:`train` returns (on every rank).

    Attributes:
        model: the trained model (unwrapped: no DDP, no compile).
        history: one dict per epoch (the rows of ``metrics.csv``).
        run_dir: the run folder.
        step: optimiser steps taken in total.
        stopped_early: True if ``max_steps`` ended the run before the last epoch.
        train_time_s: seconds spent in training steps in this process (no eval).
        images_per_s: training images per second over ``train_time_s``.
        preprocessing: the normalisation the model was trained with.
    """

    model: nn.Module
    history: list[dict[str, Any]]
    run_dir: Path
    step: int
    stopped_early: bool
    train_time_s: float
    images_per_s: float
    preprocessing: Preprocessing


def build_model(config: TrainConfig, bundle: DataBundle) -> nn.Module:
    """The registry model, with ``num_classes``/``in_channels`` taken from the
    data unless ``model_kwargs`` sets them (only if the builder accepts them)."""
    return create_model(config.model, **build_model_kwargs(config, bundle))


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also every CUDA device


def _state_for_checkpoint(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.amp.GradScaler,
    config: TrainConfig,
    preprocessing: Preprocessing,
    position: dict[str, Any],
    history: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "format": _FORMAT,
        "version": 1,
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict(),
        "rng": rng_state(),
        "config": config.to_dict(),
        "preprocessing": preprocessing.to_dict(),
        "position": position,  # epoch, batch in epoch, step, sampler, running sums
        "history": history,
        "torch_version": str(torch.__version__),
    }


def _check_resumable(saved: Mapping[str, Any], config: TrainConfig) -> None:
    now = config.to_dict()
    changed = [k for k in _RUN_IDENTITY if saved.get(k) != now.get(k)]
    if changed:
        details = ", ".join(f"{k}: {saved.get(k)!r} -> {now.get(k)!r}" for k in changed)
        raise CheckpointError(
            f"cannot resume: the checkpoint was trained with other settings ({details})"
        )


def _batches(
    data: Any,
    order: Tensor,
    per_rank: int,
    first: int,
    steps: int,
    config: TrainConfig,
    device: torch.device,
) -> Iterator[tuple[Tensor, Tensor]]:
    """Batches ``first .. steps-1`` of this rank's ``order`` (a permutation)."""
    if isinstance(data, TensorImageDataset):
        order = order.to(data.images.device)  # no host-device copy per step
        for k in range(first, steps):
            yield data.get_batch(order[k * per_rank : (k + 1) * per_rank])
        return
    lists = [
        order[k * per_rank : (k + 1) * per_rank].tolist() for k in range(first, steps)
    ]
    loader = DataLoader(
        data,
        batch_sampler=lists,
        num_workers=config.num_workers,
        pin_memory=device.type == "cuda",
    )
    for x, y in loader:
        yield x.to(device, non_blocking=True), y.to(device, non_blocking=True)


@torch.no_grad()
def evaluate(
    net: nn.Module,
    data: Any,
    mean: Tensor,
    std: Tensor,
    config: TrainConfig,
    device: torch.device,
    d: _Dist,
    autocast: Callable[[], contextlib.AbstractContextManager[Any]],
) -> tuple[float, float]:
    """Mean loss and accuracy on ``data``; each rank takes every W-th image."""
    was_training = net.training
    net.eval()
    order = torch.arange(d.rank, len(data), d.world_size)
    steps = math.ceil(len(order) / config.batch_size)
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    for x, y in _batches(data, order, config.batch_size, 0, steps, config, device):
        x = normalize(x, mean, std)
        if config.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast():
            logits = net(x)
        loss_sum += F.cross_entropy(logits.float(), y, reduction="sum").double()
        correct += (logits.argmax(dim=1) == y).sum()
    net.train(was_training)
    total_loss, total_correct, n = _all_reduce(
        [loss_sum.item(), float(correct.item()), float(len(order))], d, device
    )
    return total_loss / max(n, 1), total_correct / max(n, 1)


def _running(
    sums: list[float], loss_sum: Tensor, correct_sum: Tensor, seen: int, t0: float
) -> list[float]:
    """Epoch sums so far (loss * n, correct, seen, seconds) on this rank:
    ``sums`` from before a resume plus this process's part."""
    here = [loss_sum.item(), float(correct_sum.item()), float(seen)]
    return [a + b for a, b in zip(sums, [*here, time.perf_counter() - t0], strict=True)]


def _sync_buffers(model: nn.Module, d: _Dist) -> None:
    """Copy rank 0's buffers (BN running statistics) to every rank: DDP
    broadcasts them before each training forward, but each rank then updates
    them with its own shard, so after the last step they differ slightly."""
    if d.enabled:
        for buf in model.buffers():
            dist.broadcast(buf, src=0)


def _fingerprint(model: nn.Module) -> Tensor:
    return torch.stack(
        [
            t.detach().double().sum()
            for t in model.state_dict().values()
            if t.is_floating_point()
        ]
    )


def train(config: TrainConfig) -> TrainResult:
    """Train ``config.model`` as ``config`` says; see the module docstring.

    Raises :class:`TrainingDiverged` on a NaN/inf loss, :class:`CheckpointError`
    when ``resume`` finds no usable checkpoint, ValueError on bad settings and
    :class:`~dlnotes.train.data.DatasetNotFoundError` when the data is missing.
    """
    config.validate()
    wants_cuda = config.device == "cuda" or (
        config.device == "auto" and torch.cuda.is_available()
    )
    d = _init_distributed("cuda" if wants_cuda else "cpu")
    flags = (
        torch.are_deterministic_algorithms_enabled(),
        torch.backends.cudnn.benchmark,
    )
    try:
        return _train(config, d)
    finally:  # global switches back as they were (train() may run in a notebook)
        torch.use_deterministic_algorithms(flags[0])
        torch.backends.cudnn.benchmark = flags[1]
        if d.owned:
            dist.destroy_process_group()


def _train(config: TrainConfig, d: _Dist) -> TrainResult:
    device = _resolve_device(config, d.local_rank)
    if config.batch_size % d.world_size:
        raise ValueError(
            f"batch_size must be divisible by the {d.world_size} processes; "
            f"got {config.batch_size}"
        )
    if config.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
    elif device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    _seed_everything(config.seed)
    run_dir = config.run_dir()
    ckpt_path = run_dir / CHECKPOINT_NAME
    saved: dict[str, Any] | None = None
    if config.resume:
        saved = load_training_checkpoint(ckpt_path)
        _check_resumable(saved["config"], config)

    # -- data ------------------------------------------------------------------
    try:
        bundle = load_dataset(
            config.dataset,
            data_dir=config.data_dir,
            image_size=config.image_size,
            in_channels=config.in_channels,
            num_classes=config.num_classes or None,
            digits_mode=config.digits_mode,
            synthetic_train=config.synthetic_train,
            synthetic_test=config.synthetic_test,
            test_fraction=config.test_fraction,
            seed=config.seed,
        )
    except DatasetNotFoundError as exc:
        if config.download:
            raise DatasetNotFoundError(
                f"automatic download is not available (no network access is "
                f"assumed); {exc}"
            ) from None
        raise
    preprocessing = bundle.preprocessing
    if config.mean:
        if len(config.mean) != bundle.input_shape[0]:
            raise ValueError(
                f"mean/std need {bundle.input_shape[0]} values (one per channel); "
                f"got {len(config.mean)}"
            )
        preprocessing = dataclasses.replace(
            preprocessing, mean=tuple(config.mean), std=tuple(config.std)
        )
    train_data: Any = bundle.train
    test_data: Any = bundle.test
    if isinstance(train_data, TensorImageDataset):
        train_data = train_data.to(device)
        test_data = test_data.to(device)
    mean = torch.tensor(preprocessing.mean, dtype=torch.float32, device=device)
    std = torch.tensor(preprocessing.std, dtype=torch.float32, device=device)
    augment = config.augment == "crop-flip" or (
        config.augment == "auto" and config.dataset in ("cifar10", "cifar100")
    )
    per_rank = config.batch_size // d.world_size
    sampler: DistributedSampler[Any] = DistributedSampler(
        train_data,
        num_replicas=d.world_size,
        rank=d.rank,
        shuffle=True,
        seed=config.seed,
        drop_last=True,
    )
    steps_per_epoch = len(sampler) // per_rank
    if steps_per_epoch < 1:
        raise ValueError(
            f"batch_size must be <= the {len(train_data)} training images; "
            f"got {config.batch_size}"
        )

    # -- model, optimiser, schedule, scaler -------------------------------------
    model = build_model(config, bundle).to(device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=config.lr,
        momentum=config.momentum,
        nesterov=config.nesterov,
        weight_decay=config.weight_decay,
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(s, config, steps_per_epoch)
    )
    scaler = torch.amp.GradScaler(device.type, enabled=config.amp == "fp16")
    amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(config.amp)

    def autocast() -> contextlib.AbstractContextManager[Any]:
        if amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device.type, dtype=amp_dtype)

    epoch, first_batch, step = 0, 0, 0
    sums = [0.0, 0.0, 0.0, 0.0]  # loss * n, correct, seen, seconds (this epoch)
    history: list[dict[str, Any]] = []
    if saved is not None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        scaler.load_state_dict(saved["scaler"])
        set_rng_state(saved["rng"])
        pos = saved["position"]
        epoch, first_batch, step = pos["epoch"], pos["batch"], pos["step"]
        if pos["world_size"] != d.world_size and first_batch:
            raise CheckpointError(
                f"cannot resume mid-epoch with {d.world_size} processes: the run "
                f"was saved by {pos['world_size']} (resume from an epoch checkpoint)"
            )
        if d.is_main:
            sums = [float(v) for v in pos["sums"]]
        history = [dict(r) for r in saved["history"]]
    net: nn.Module = model
    if d.enabled:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    if config.compile:
        net = typing.cast(nn.Module, torch.compile(net))

    # -- loop ------------------------------------------------------------------
    if d.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
    bad_step = torch.full((), -1, dtype=torch.int64, device=device)
    big = 2**62

    def check_finite() -> None:
        """Raise TrainingDiverged if any rank saw a NaN/inf loss (a sync point)."""
        value = int(bad_step.item())
        if d.enabled:
            t = torch.tensor([value if value >= 0 else big], device=device)
            dist.all_reduce(t, op=dist.ReduceOp.MIN)
            value = int(t.item()) if int(t.item()) < big else -1
        if value >= 0:
            kept = (
                f"; the last good checkpoint is {ckpt_path}"
                if ckpt_path.is_file()
                else ""
            )
            raise TrainingDiverged(
                f"loss is NaN or infinite at step {value} (epoch {epoch + 1}); "
                f"stopping{kept}"
            )

    def save(position: dict[str, Any], running: list[float]) -> None:
        """Checkpoint (rank 0 writes) after checking no rank saw a bad loss.

        ``running`` are this epoch's sums so far on this rank (loss * n,
        correct, seen, seconds); they are added up over the ranks so that a
        resumed run reports the same epoch metrics as an uninterrupted one."""
        check_finite()
        totals = [*_all_reduce(running[:3], d, device), running[3]]
        position = dict(
            position,
            world_size=d.world_size,
            sums=totals,
            sampler="DistributedSampler(shuffle=True, drop_last=True)",
        )
        if d.is_main:
            state = _state_for_checkpoint(
                model,
                optimizer,
                scheduler,
                scaler,
                config,
                preprocessing,
                position,
                history,
            )
            save_atomic(state, ckpt_path)

    sync_every = 1 if device.type == "cpu" and not d.enabled else config.log_every
    train_time, images_done, stopped_early = 0.0, 0, False
    net.train()
    while epoch < config.epochs:
        if config.max_steps and step >= config.max_steps:  # stop at an epoch end
            save({"epoch": epoch, "batch": 0, "step": step}, sums)
            stopped_early = True
            break
        sampler.set_epoch(epoch)
        order = torch.tensor(list(iter(sampler)), dtype=torch.int64)
        bar = ProgressBar(
            steps_per_epoch,
            f"epoch {epoch + 1}/{config.epochs}",
            enabled=config.progress and d.is_main,
        )
        loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        correct_sum = torch.zeros((), dtype=torch.int64, device=device)
        seen = 0
        t0 = time.perf_counter()

        batches = _batches(
            train_data, order, per_rank, first_batch, steps_per_epoch, config, device
        )
        for k, (x, y) in enumerate(batches, start=first_batch):
            x = normalize(x, mean, std)
            if augment:
                x = random_crop_flip(
                    x, generator=batch_generator(config.seed, epoch, k, d.rank)
                )
            if config.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            loss, correct = train_step(net, x, y, optimizer, scaler, autocast)
            scheduler.step()
            bad_step.copy_(
                torch.where(torch.isfinite(loss) | (bad_step >= 0), bad_step, step + 1)
            )
            step += 1
            loss_sum += loss.double() * y.shape[0]
            correct_sum += correct
            seen += y.shape[0]
            last = k + 1 == steps_per_epoch
            if step % sync_every == 0 or last:
                check_finite()
            if bar.enabled and (step % config.log_every == 0 or last):
                r = _running(sums, loss_sum, correct_sum, seen, t0)
                speed = seen * d.world_size / max(r[3] - sums[3], 1e-9)
                bar.update(
                    k + 1,
                    {
                        "loss": f"{r[0] / r[2]:.4f}",
                        "acc": f"{100 * r[1] / r[2]:.2f}%",
                        "lr": f"{scheduler.get_last_lr()[0]:.3g}",
                        "": f"{speed:.0f} img/s",
                    },
                )
            if last:
                break
            stop_now = bool(config.max_steps) and step >= config.max_steps
            every = config.checkpoint_every_steps
            if stop_now or (every and step % every == 0):
                save(
                    {"epoch": epoch, "batch": k + 1, "step": step},
                    _running(sums, loss_sum, correct_sum, seen, t0),
                )
            if stop_now:
                stopped_early = True
                break
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        elapsed = time.perf_counter() - t0
        train_time += elapsed
        images_done += seen * d.world_size
        bar.close()
        if stopped_early:
            break
        check_finite()
        # -- end of epoch: totals over all ranks, evaluation, files ---------------
        tot_loss, tot_correct, tot_seen, epoch_time = _running(
            sums, loss_sum, correct_sum, seen, t0
        )
        tot_loss, tot_correct, tot_seen = _all_reduce(
            [tot_loss, tot_correct, tot_seen], d, device
        )
        row: dict[str, Any] = {
            "epoch": epoch + 1,
            "step": step,
            "lr": scheduler.get_last_lr()[0],
            "train_loss": tot_loss / tot_seen,
            "train_acc": tot_correct / tot_seen,
            "test_loss": None,
            "test_acc": None,
            "images_per_s": tot_seen / max(epoch_time, 1e-9),
            "epoch_time_s": epoch_time,
        }
        _sync_buffers(model, d)  # BN statistics of rank 0 everywhere
        if config.eval_every_epochs and (
            (epoch + 1) % config.eval_every_epochs == 0 or epoch + 1 == config.epochs
        ):
            row["test_loss"], row["test_acc"] = evaluate(
                net, test_data, mean, std, config, device, d, autocast
            )
        history.append(row)
        epoch, first_batch = epoch + 1, 0
        sums = [0.0, 0.0, 0.0, 0.0]
        if d.is_main and config.progress:
            test = (
                f", test loss {row['test_loss']:.4f} acc {100 * row['test_acc']:.2f}%"
                if row["test_acc"] is not None
                else ""
            )
            print(
                f"epoch {epoch}: train loss {row['train_loss']:.4f} acc "
                f"{100 * row['train_acc']:.2f}%{test}",
                file=sys.stderr,
            )
        every = config.checkpoint_every_epochs
        if (every and epoch % every == 0) or epoch == config.epochs:
            save({"epoch": epoch, "batch": 0, "step": step}, sums)
        if d.is_main:
            write_metrics(history, run_dir)

    # -- the end ---------------------------------------------------------------
    if d.enabled:  # DDP keeps replicas identical; check it, cheaply
        fp = _fingerprint(model).to(device)
        gathered = [torch.empty_like(fp) for _ in range(d.world_size)]
        dist.all_gather(gathered, fp)
        if not all(torch.equal(gathered[0], g) for g in gathered):
            raise RuntimeError("replicas differ after training (DDP invariant broken)")
    if d.is_main and not stopped_early:
        save_checkpoint(
            run_dir / MODEL_NAME,
            model,
            preprocessing,
            model_name=config.model,
            model_kwargs=build_model_kwargs(config, bundle),
            extra={"history": history},
        )
        if config.plot and history:
            plot_history(history).savefig(run_dir / "metrics.png", dpi=110)
    return TrainResult(
        model=model,
        history=history,
        run_dir=run_dir,
        step=step,
        stopped_early=stopped_early,
        train_time_s=train_time,
        images_per_s=images_done / max(train_time, 1e-9),
        preprocessing=preprocessing,
    )


def build_model_kwargs(config: TrainConfig, bundle: DataBundle) -> dict[str, Any]:
    """The keyword arguments :func:`build_model` passes to the registry."""
    accepted = model_entry(config.model).accepted_kwargs()
    kwargs = dict(config.model_kwargs)
    if "num_classes" in accepted:
        kwargs.setdefault("num_classes", config.num_classes or bundle.num_classes)
    if "in_channels" in accepted:
        kwargs.setdefault("in_channels", bundle.input_shape[0])
    if "input_size" in accepted and bundle.input_shape[1] == bundle.input_shape[2]:
        kwargs.setdefault("input_size", bundle.input_shape[1])
    return kwargs


# ---------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    """The ``train`` subcommand of ``dlnotes`` on its parsed arguments (see
    :func:`dlnotes.train.config.add_arguments`); returns the exit code:
    0 done, 1 diverged, 2 bad config or missing data (one line on stderr, no
    traceback), 130 interrupted."""
    prog = "dlnotes train"
    try:
        config, print_only = config_from_args(args)
        if print_only:
            print(yaml.safe_dump(config.to_dict(), sort_keys=False), end="")
            return 0
        result = train(config)
    except (ValueError, DatasetNotFoundError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except TrainingDiverged as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; continue with --resume", file=sys.stderr)
        return 130
    if int(os.environ.get("RANK", "0")) == 0:
        done = "stopped at max_steps" if result.stopped_early else "done"
        print(
            f"{prog}: {done} after {result.step} steps; run folder {result.run_dir}",
            file=sys.stderr,
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m dlnotes.train [flags]`` (the same as ``dlnotes train``)."""
    return run(build_parser().parse_args(list(argv) if argv is not None else None))


if __name__ == "__main__":
    sys.exit(main())
