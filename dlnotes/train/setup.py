"""Setting up a run: the learning-rate schedule, and :func:`setup`, which turns a
:class:`~dlnotes.train.config.TrainConfig` into a :class:`Run` (device, seeds,
data, sampler, model, optimiser, scheduler, grad scaler), everything that stays
fixed while :mod:`dlnotes.train.loop` trains.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import sys
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DistributedSampler

from dlnotes.models import create_model, model_entry
from dlnotes.train.checkpoint import CHECKPOINT_NAME, seed_rngs
from dlnotes.train.config import TrainConfig
from dlnotes.train.data import (
    DataBundle,
    DatasetNotFoundError,
    TensorImageDataset,
    normalize,
)
from dlnotes.train.datasets import load_dataset
from dlnotes.train.distributed import Distributed, resolve_device
from dlnotes.transfer import Preprocessing

__all__ = [
    "Run",
    "build_model",
    "build_model_kwargs",
    "load_data",
    "lr_factor",
    "setup",
]


# --8<-- [start:lr-schedule]
def lr_factor(step: int, config: TrainConfig, total_steps: int) -> float:
    """Multiplier of ``config.lr`` at optimiser step ``step`` (0-based) of a run
    of ``total_steps`` steps (``epochs`` x steps per epoch).

    ``step``: divide by ``1/gamma`` at each milestone; the default milestones are
    50% and 75% of training, the paper's 32k and 48k of 64k iterations.
    ``cosine``: ``(1 + cos(pi t / T)) / 2`` from 1 to 0 (arXiv:1608.03983),
    ``t`` counted after the warm-up. A linear warm-up over the first
    ``warmup_steps`` multiplies either.
    """
    warm = min(1.0, (step + 1) / config.warmup_steps) if config.warmup_steps else 1.0
    if config.schedule == "constant":
        return warm
    if config.schedule == "cosine":
        t = max(0, step - config.warmup_steps)
        span = max(1, total_steps - config.warmup_steps)
        return warm * 0.5 * (1 + math.cos(math.pi * min(t, span) / span))
    if config.milestones:
        per_epoch = max(1, total_steps // config.epochs)
        unit = per_epoch if config.milestones_unit == "epoch" else 1
        milestones = [m * unit for m in config.milestones]
    else:
        milestones = [round(total_steps * 0.5), round(total_steps * 0.75)]
    passed = sum(step >= m for m in milestones)
    return warm * config.gamma**passed


# --8<-- [end:lr-schedule]


@dataclass
class Run:
    """Everything a run holds fixed: settings, data, model, optimiser."""

    config: TrainConfig
    dist: Distributed
    device: torch.device
    bundle: DataBundle
    preprocessing: Preprocessing
    train_data: Any  # TensorImageDataset (on the device) or ImageFolderDataset
    test_data: Any
    sampler: DistributedSampler[Any]
    per_rank: int  # images per step on this process
    steps_per_epoch: int
    model: nn.Module  # unwrapped: what is saved
    net: nn.Module  # what is called: DDP and/or torch.compile around model
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    amp_dtype: torch.dtype | None
    augment: bool
    mean: Tensor
    std: Tensor

    @property
    def run_dir(self) -> Path:
        return self.config.run_dir()

    @property
    def ckpt_path(self) -> Path:
        return self.run_dir / CHECKPOINT_NAME

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def prepare(self, x: Tensor) -> Tensor:
        """Raw images -> normalised float32 (NHWC with ``channels_last``)."""
        x = normalize(x, self.mean, self.std)
        if self.config.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def say(self, message: str, *, always: bool = False) -> None:
        """A line on stderr from rank 0 (``always``: even with ``--no-progress``)."""
        if self.dist.is_main and (always or self.config.progress):
            print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Set-up
# ---------------------------------------------------------------------------


def build_model_kwargs(config: TrainConfig, bundle: DataBundle) -> dict[str, Any]:
    """The keyword arguments :func:`build_model` passes to the registry:
    ``num_classes``/``in_channels``/``input_size`` from the data unless
    ``model_kwargs`` sets them (only if the builder accepts them)."""
    accepted = model_entry(config.model).accepted_kwargs()
    kwargs = dict(config.model_kwargs)
    if "num_classes" in accepted:
        kwargs.setdefault("num_classes", config.num_classes or bundle.num_classes)
    if "in_channels" in accepted:
        kwargs.setdefault("in_channels", bundle.input_shape[0])
    if "input_size" in accepted and bundle.input_shape[1] == bundle.input_shape[2]:
        kwargs.setdefault("input_size", bundle.input_shape[1])
    return kwargs


def build_model(config: TrainConfig, bundle: DataBundle) -> nn.Module:
    """The registry model for this data (:func:`build_model_kwargs`)."""
    return create_model(config.model, **build_model_kwargs(config, bundle))


def load_data(config: TrainConfig) -> tuple[DataBundle, Preprocessing]:
    """The dataset and its normalisation (``--mean``/``--std`` override it)."""
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
    return bundle, preprocessing


def setup(config: TrainConfig, d: Distributed) -> Run:
    """Device, seeds, data, sampler, model, optimiser, schedule, grad scaler."""
    device = resolve_device(config.device, d.local_rank)
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
    seed_rngs(config.seed)
    bundle, preprocessing = load_data(config)
    train_data: Any = bundle.train
    test_data: Any = bundle.test
    if isinstance(train_data, TensorImageDataset):
        train_data, test_data = train_data.to(device), test_data.to(device)
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
    total_steps = config.epochs * steps_per_epoch
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(s, config, total_steps)
    )
    net: nn.Module = model
    if d.enabled:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    if config.compile:
        net = typing.cast(nn.Module, torch.compile(net))
    return Run(
        config=config,
        dist=d,
        device=device,
        bundle=bundle,
        preprocessing=preprocessing,
        train_data=train_data,
        test_data=test_data,
        sampler=sampler,
        per_rank=per_rank,
        steps_per_epoch=steps_per_epoch,
        model=model,
        net=net,
        optimizer=optimizer,
        scheduler=scheduler,
        scaler=torch.amp.GradScaler(device.type, enabled=config.amp == "fp16"),
        amp_dtype={"bf16": torch.bfloat16, "fp16": torch.float16}.get(config.amp),
        augment=config.augment == "crop-flip"
        or (config.augment == "auto" and config.dataset in ("cifar10", "cifar100")),
        mean=torch.tensor(preprocessing.mean, dtype=torch.float32, device=device),
        std=torch.tensor(preprocessing.std, dtype=torch.float32, device=device),
    )
