"""The training loop behind ``dlnotes train``, in small named steps.

One call, :func:`train`, trains any registered model (:mod:`dlnotes.models`) on
digits, synthetic data, CIFAR-10/100 or an image folder (:mod:`dlnotes.train.data`)
with SGD + momentum and the ResNet paper's schedule (arXiv:1512.03385, section
4.2: lr 0.1, divided by 10 at 32k and 48k iterations, weight decay 1e-4,
momentum 0.9, batch 128), or a cosine schedule. It reads top to bottom::

    run = setup(config, dist)           # data, model, optimiser, schedule
    state = restore(run)                # a fresh start, or where the checkpoint was
    while state.epoch < config.epochs:
        train_epoch(run, state)         # SGD steps, progress bar, NaN checks
        end_epoch(run, state)           # evaluate, metrics files, save
    finish(run, state)                  # model.pt and metrics.png

* checkpoints (:mod:`dlnotes.train.checkpoint`) hold the model, optimiser,
  scheduler, grad scaler, RNG states, config, preprocessing and the position in
  the data order; on the CPU a killed and resumed run ends with exactly the
  weights of an uninterrupted one;
* a NaN/inf loss stops the run, naming the step, leaving the last good checkpoint;
* it runs unchanged under ``torchrun`` (:mod:`dlnotes.train.distributed`);
* bf16/fp16 autocast, ``channels_last`` and ``torch.compile`` are options.

>>> from dlnotes.train import TrainConfig, train
>>> result = train(TrainConfig(model="cnn", dataset="digits", epochs=1))
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader

from dlnotes.train.checkpoint import (
    CHECKPOINT_NAME,
    MODEL_NAME,
    TRAINING_FORMAT,
    CheckpointError,
    check_resumable,
    load_training_checkpoint,
    rng_state,
    save_file,
    set_rng_state,
)
from dlnotes.train.config import TrainConfig
from dlnotes.train.data import TensorImageDataset, batch_generator, random_crop_flip
from dlnotes.train.distributed import init_distributed
from dlnotes.train.metrics import ProgressBar, plot_history, write_metrics
from dlnotes.train.setup import Run, build_model_kwargs, setup
from dlnotes.transfer import Preprocessing, save_checkpoint

__all__ = [
    "Evaluation",
    "TrainResult",
    "TrainingDiverged",
    "at_chance",
    "evaluate",
    "train",
    "train_step",
]

AutoCast = Callable[[], contextlib.AbstractContextManager[Any]]


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the message names the step."""


# ---------------------------------------------------------------------------
# The pieces: schedule, one step, evaluation
# ---------------------------------------------------------------------------


# --8<-- [start:train-step]
def train_step(
    net: nn.Module,
    x: Tensor,
    y: Tensor,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    autocast: AutoCast,
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


@dataclass(frozen=True)
class Evaluation:
    """Sums over ``count`` examples; ``loss`` and ``accuracy`` are the means."""

    loss_sum: float
    correct: float
    count: float

    @property
    def loss(self) -> float:
        """Mean cross-entropy."""
        return self.loss_sum / max(self.count, 1)

    @property
    def accuracy(self) -> float:
        """Share of examples whose largest logit is the label."""
        return self.correct / max(self.count, 1)


# --8<-- [start:evaluate]
@torch.no_grad()
def evaluate(
    model: nn.Module,
    data: tuple[Tensor, Tensor] | Iterable[tuple[Tensor, Tensor]],
    *,
    batch_size: int = 512,
    prepare: Callable[[Tensor], Tensor] | None = None,
    autocast: AutoCast = contextlib.nullcontext,
) -> Evaluation:
    """Cross-entropy and accuracy of ``model`` on ``data``, in eval mode (BN
    uses its running statistics); every module's training flag is restored.

    ``data`` is a pair of tensors ``(x, y)`` (evaluated in batches of
    ``batch_size``) or an iterable of ``(x, y)`` batches. ``prepare`` is applied
    to each ``x`` first (the engine normalises raw images there).
    """
    if isinstance(data, tuple) and all(isinstance(t, Tensor) for t in data):
        x_all, y_all = data
        data = zip(x_all.split(batch_size), y_all.split(batch_size), strict=True)
    modes = {m: m.training for m in model.modules()}
    model.eval()
    loss_sum, correct, count = torch.zeros((), dtype=torch.float64), 0, 0
    try:
        for x, y in data:
            with autocast():
                logits = model(prepare(x) if prepare else x)  # (N, num_classes)
            loss = F.cross_entropy(logits.float(), y, reduction="sum")
            loss_sum = loss_sum.to(loss.device) + loss.double()
            correct += (logits.argmax(dim=1) == y).sum()
            count += len(y)
    finally:
        for m, mode in modes.items():
            m.training = mode
    return Evaluation(float(loss_sum), float(correct), float(count))


# --8<-- [end:evaluate]


def at_chance(accuracy: float, labels: Tensor) -> bool:
    """True if ``accuracy`` on examples with these ``labels`` is no better than
    always answering the most frequent label (1/K for balanced classes), up to
    three standard errors of a chance guesser (at least 2 points)."""
    n = len(labels)
    chance = float(torch.bincount(labels.cpu()).max()) / max(n, 1)
    margin = max(0.02, 3 * math.sqrt(chance * (1 - chance) / max(n, 1)))
    return accuracy <= chance + margin


# ---------------------------------------------------------------------------
# A run: what stays fixed, and where it is
# ---------------------------------------------------------------------------


@dataclass
class RunState:
    """Where a run is, and what it has measured (all of it is checkpointed).

    ``sums`` are the current epoch's running sums from before this process
    started (a resumed epoch): loss x images, correct, images, seconds.
    """

    epoch: int = 0  # epochs finished
    batch: int = 0  # batches of the current epoch done
    step: int = 0  # optimiser steps in total
    sums: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0, 0.0])
    history: list[dict[str, Any]] = field(default_factory=list)
    stopped_early: bool = False
    train_time: float = 0.0  # seconds in training steps, this process
    images_done: int = 0  # training images seen, this process (all ranks)
    bad_step: Tensor | None = None  # first step with a NaN/inf loss (-1: none)


@dataclass
class EpochMeter:
    """The current epoch's running sums on this rank, kept on the device so that
    a step needs no GPU sync; ``base`` are the sums restored from a checkpoint."""

    base: list[float]
    loss_sum: Tensor
    correct: Tensor
    seen: int = 0
    t0: float = field(default_factory=time.perf_counter)

    def totals(self) -> list[float]:
        """loss x images, correct, images, seconds so far (this rank)."""
        here = [self.loss_sum.item(), float(self.correct.item()), float(self.seen)]
        here.append(time.perf_counter() - self.t0)
        return [a + b for a, b in zip(self.base, here, strict=True)]


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
        learned: False if the last epoch's training accuracy is at chance
            level (:func:`at_chance`); None when no epoch finished.
    """

    model: nn.Module
    history: list[dict[str, Any]]
    run_dir: Path
    step: int
    stopped_early: bool
    train_time_s: float
    images_per_s: float
    preprocessing: Preprocessing
    learned: bool | None = None


# ---------------------------------------------------------------------------
# The steps of the loop
# ---------------------------------------------------------------------------


def restore(run: Run, saved: dict[str, Any] | None) -> RunState:
    """A fresh :class:`RunState`, or the one of the checkpoint ``saved`` with
    the model, optimiser, scheduler, scaler and RNGs put back as they were."""
    state = RunState(bad_step=torch.full((), -1, dtype=torch.int64, device=run.device))
    if saved is None:
        return state
    run.model.load_state_dict(saved["model"])
    run.optimizer.load_state_dict(saved["optimizer"])
    run.scheduler.load_state_dict(saved["scheduler"])
    run.scaler.load_state_dict(saved["scaler"])
    set_rng_state(saved["rng"])
    pos = saved["position"]
    state.epoch, state.batch, state.step = pos["epoch"], pos["batch"], pos["step"]
    if pos["world_size"] != run.dist.world_size and state.batch:
        raise CheckpointError(
            f"cannot resume mid-epoch with {run.dist.world_size} processes: the run "
            f"was saved by {pos['world_size']} (resume from an epoch checkpoint)"
        )
    if run.dist.is_main:  # the saved sums are over all ranks: count them once
        state.sums = [float(v) for v in pos["sums"]]
    state.history = [dict(r) for r in saved["history"]]
    where = f"epoch {state.epoch + 1}, batch {state.batch}/{run.steps_per_epoch}"
    if state.epoch >= run.config.epochs:
        where = f"the end of epoch {state.epoch}"
    run.say(f"resuming {run.ckpt_path} at step {state.step} ({where})", always=True)
    return state


def check_finite(run: Run, state: RunState) -> None:
    """Raise TrainingDiverged if any rank saw a NaN/inf loss (a sync point)."""
    assert state.bad_step is not None
    bad = run.dist.first_bad_step(int(state.bad_step.item()), run.device)
    if bad >= 0:
        kept = ""
        if run.ckpt_path.is_file():
            kept = f"; the last good checkpoint is {run.ckpt_path}"
        raise TrainingDiverged(
            f"loss is NaN or infinite at step {bad} (epoch {state.epoch + 1}); "
            f"stopping{kept}"
        )


def save(run: Run, state: RunState, running: list[float]) -> None:
    """Checkpoint the run where ``state`` is (rank 0 writes), after checking no
    rank saw a bad loss. ``running`` are this epoch's sums so far on this rank;
    they are added up over the ranks, so a resumed run reports the same epoch
    metrics as an uninterrupted one."""
    check_finite(run, state)
    totals = [*run.dist.all_reduce(running[:3], run.device), running[3]]
    if not run.dist.is_main:
        return
    position = {
        "epoch": state.epoch,
        "batch": state.batch,
        "step": state.step,
        "world_size": run.dist.world_size,
        "sums": totals,
        "sampler": "DistributedSampler(shuffle=True, drop_last=True)",
    }
    checkpoint = {
        "format": TRAINING_FORMAT,
        "version": 1,
        "model": {k: v.detach().cpu() for k, v in run.model.state_dict().items()},
        "optimizer": run.optimizer.state_dict(),
        "scheduler": run.scheduler.state_dict(),
        "scaler": run.scaler.state_dict(),
        "rng": rng_state(),
        "config": run.config.to_dict(),
        "preprocessing": run.preprocessing.to_dict(),
        "position": position,  # epoch, batch in epoch, step, sampler, running sums
        "history": state.history,
        "torch_version": str(torch.__version__),
    }
    save_file(checkpoint, run.ckpt_path)


def _batches(
    run: Run, data: Any, order: Tensor, size: int, first: int, last: int
) -> Iterator[tuple[Tensor, Tensor]]:
    """Batches ``first .. last-1`` of ``size`` images in ``order``, on the device."""
    if isinstance(data, TensorImageDataset):
        order = order.to(data.images.device)  # no host-device copy per step
        for k in range(first, last):
            yield data.get_batch(order[k * size : (k + 1) * size])
        return
    lists = [order[k * size : (k + 1) * size].tolist() for k in range(first, last)]
    loader = DataLoader(
        data,
        batch_sampler=lists,
        num_workers=run.config.num_workers,
        pin_memory=run.device.type == "cuda",
    )
    for x, y in loader:
        yield x.to(run.device, non_blocking=True), y.to(run.device, non_blocking=True)


def train_epoch(run: Run, state: RunState) -> list[float]:
    """Train the rest of the current epoch (from ``state.batch``), or up to
    ``max_steps``; returns this rank's epoch sums (see :class:`EpochMeter`)."""
    config, d = run.config, run.dist
    assert state.bad_step is not None
    run.sampler.set_epoch(state.epoch)
    order = torch.tensor(list(iter(run.sampler)), dtype=torch.int64)
    meter = EpochMeter(
        state.sums,
        torch.zeros((), dtype=torch.float64, device=run.device),
        torch.zeros((), dtype=torch.int64, device=run.device),
    )
    bar = ProgressBar(
        run.steps_per_epoch,
        f"epoch {state.epoch + 1}/{config.epochs}",
        enabled=config.progress and d.is_main,
    )
    sync_every = 1 if run.device.type == "cpu" and not d.enabled else config.log_every
    batches = _batches(
        run, run.train_data, order, run.per_rank, state.batch, run.steps_per_epoch
    )
    try:
        for k, (x, y) in enumerate(batches, start=state.batch):
            x = run.prepare(x)
            if run.augment:
                g = batch_generator(config.seed, state.epoch, k, d.rank)
                x = random_crop_flip(x, generator=g)
            loss, correct = train_step(
                run.net, x, y, run.optimizer, run.scaler, run.autocast
            )
            run.scheduler.step()
            state.bad_step.copy_(
                torch.where(
                    torch.isfinite(loss) | (state.bad_step >= 0),
                    state.bad_step,
                    state.step + 1,
                )
            )
            state.step, state.batch = state.step + 1, k + 1
            meter.loss_sum += loss.double() * y.shape[0]
            meter.correct += correct
            meter.seen += y.shape[0]
            last = k + 1 == run.steps_per_epoch
            if state.step % sync_every == 0 or last:
                check_finite(run, state)
            if bar.enabled and (state.step % config.log_every == 0 or last):
                _show(run, bar, meter, k + 1)
            if last:
                break
            stop = bool(config.max_steps) and state.step >= config.max_steps
            every = config.checkpoint_every_steps
            if stop or (every and state.step % every == 0):
                save(run, state, meter.totals())
            if stop:
                state.stopped_early = True
                break
        if run.device.type == "cuda":
            torch.cuda.synchronize(run.device)
    finally:
        bar.close()  # an interrupt or a NaN is reported on a fresh line
    state.train_time += time.perf_counter() - meter.t0
    state.images_done += meter.seen * d.world_size
    return meter.totals()


def _show(run: Run, bar: ProgressBar, meter: EpochMeter, done: int) -> None:
    loss_sum, correct, seen, seconds = meter.totals()
    speed = meter.seen * run.dist.world_size / max(seconds - meter.base[3], 1e-9)
    bar.update(
        done,
        {
            "loss": f"{loss_sum / seen:.4f}",
            "acc": f"{100 * correct / seen:.2f}%",
            "lr": f"{run.scheduler.get_last_lr()[0]:.3g}",
            "": f"{speed:.0f} img/s",
        },
    )


def test_evaluation(run: Run) -> Evaluation:
    """:func:`evaluate` on the test set; each rank takes every W-th image."""
    d, size = run.dist, run.config.batch_size
    order = torch.arange(d.rank, len(run.test_data), d.world_size)
    steps = math.ceil(len(order) / size)
    batches = _batches(run, run.test_data, order, size, 0, steps)
    mine = evaluate(run.net, batches, prepare=run.prepare, autocast=run.autocast)
    sums = [mine.loss_sum, mine.correct, mine.count]
    return Evaluation(*d.all_reduce(sums, run.device))


def end_epoch(run: Run, state: RunState, sums: list[float]) -> None:
    """After the last step of an epoch: its metrics over all ranks, the test
    evaluation, the history row, the epoch checkpoint and the metrics files."""
    config, d = run.config, run.dist
    check_finite(run, state)
    loss_sum, correct, seen = d.all_reduce(sums[:3], run.device)
    row: dict[str, Any] = {
        "epoch": state.epoch + 1,
        "step": state.step,
        "lr": run.scheduler.get_last_lr()[0],
        "train_loss": loss_sum / seen,
        "train_acc": correct / seen,
        "test_loss": None,
        "test_acc": None,
        "images_per_s": seen / max(sums[3], 1e-9),
        "epoch_time_s": sums[3],
    }
    d.sync_buffers(run.model)  # BN statistics of rank 0 everywhere
    every = config.eval_every_epochs
    if every and ((state.epoch + 1) % every == 0 or state.epoch + 1 == config.epochs):
        result = test_evaluation(run)
        row["test_loss"], row["test_acc"] = result.loss, result.accuracy
    state.history.append(row)
    state.epoch, state.batch, state.sums = state.epoch + 1, 0, [0.0] * 4
    test = ""
    if row["test_acc"] is not None:
        test = f", test loss {row['test_loss']:.4f} acc {100 * row['test_acc']:.2f}%"
    run.say(
        f"epoch {state.epoch}: train loss {row['train_loss']:.4f} acc "
        f"{100 * row['train_acc']:.2f}%{test}"
    )
    if state.epoch == 1 and not learned(run, row):
        run.say(
            f"warning: training accuracy {100 * row['train_acc']:.2f}% after the "
            "first epoch is at chance level: the model is not learning (is lr "
            f"{config.lr:g} too large or too small?)",
            always=True,
        )
    every = config.checkpoint_every_epochs
    if (every and state.epoch % every == 0) or state.epoch == config.epochs:
        save(run, state, state.sums)
    if d.is_main:
        write_metrics(state.history, run.run_dir)


def learned(run: Run, row: dict[str, Any]) -> bool:
    """Is the training accuracy of this history row better than chance?

    The training accuracy, not the test accuracy: early in a run BatchNorm's
    running statistics can lag the weights, so a network that is learning fine
    may still score at chance in eval mode (see docs/guide/training.md)."""
    return not at_chance(row["train_acc"], run.train_data.labels)


def finish(run: Run, state: RunState) -> TrainResult:
    """Check the replicas agree; export ``model.pt`` and ``metrics.png``."""
    run.dist.check_replicas(run.model, run.device)
    config = run.config
    if run.dist.is_main and not state.stopped_early:
        save_checkpoint(
            run.run_dir / MODEL_NAME,
            run.model,
            run.preprocessing,
            model_name=config.model,
            model_kwargs=build_model_kwargs(config, run.bundle),
            extra={"history": state.history},
        )
        if config.plot and state.history:
            plot_history(state.history).savefig(run.run_dir / "metrics.png", dpi=110)
    done = state.history and not state.stopped_early
    return TrainResult(
        model=run.model,
        history=state.history,
        run_dir=run.run_dir,
        step=state.step,
        stopped_early=state.stopped_early,
        train_time_s=state.train_time,
        images_per_s=state.images_done / max(state.train_time, 1e-9),
        preprocessing=run.preprocessing,
        learned=learned(run, state.history[-1]) if done else None,
    )


# ---------------------------------------------------------------------------
# The whole run
# ---------------------------------------------------------------------------


# --8<-- [start:train]
def train(config: TrainConfig) -> TrainResult:
    """Train ``config.model`` as ``config`` says; see the module docstring.

    Raises :class:`TrainingDiverged` on a NaN/inf loss,
    :class:`~dlnotes.train.checkpoint.CheckpointError` when ``resume`` finds no
    usable checkpoint, ValueError on bad settings and
    :class:`~dlnotes.train.data.DatasetNotFoundError` when the data is missing.
    """
    config.validate()
    wants_cuda = config.device == "cuda" or (
        config.device == "auto" and torch.cuda.is_available()
    )
    d = init_distributed("cuda" if wants_cuda else "cpu")
    flags = torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark
    try:
        saved = None
        if config.resume:
            saved = load_training_checkpoint(config.run_dir() / CHECKPOINT_NAME)
            check_resumable(saved["config"], config.to_dict())
        run = setup(config, d)
        state = restore(run, saved)
        if d.is_main:
            run.run_dir.mkdir(parents=True, exist_ok=True)
        run.net.train()
        while state.epoch < config.epochs:
            if config.max_steps and state.step >= config.max_steps:
                save(run, state, state.sums)  # a stop at an epoch's start
                state.stopped_early = True
                break
            sums = train_epoch(run, state)
            if state.stopped_early:
                break
            end_epoch(run, state, sums)
        return finish(run, state)
    finally:  # global switches back as they were (train() may run in a notebook)
        torch.use_deterministic_algorithms(flags[0])
        torch.backends.cudnn.benchmark = flags[1]
        d.close()


# --8<-- [end:train]
