"""The training engine: config, data, checkpoints, the loop, distributed runs.

========================  ====================================================
``train.config``          :class:`TrainConfig` and the flags made from it (no torch)
``train.data``            data containers, normalisation, augmentation
``train.datasets``        digits, synthetic images, CIFAR, image folders
``train.setup``           the lr schedule; a config -> a :class:`Run`
``train.checkpoint``      the checkpoint file format (checksummed), RNG states
``train.distributed``     ``torchrun``: process group, device, collectives
``train.metrics``         progress bar, metrics files, plot
``train.loop``            :func:`train` in small named steps; :func:`evaluate`
``train.command``         ``dlnotes train`` / ``python -m dlnotes.train``
========================  ====================================================

The names below are loaded from their module on first use, so
``from dlnotes.train.config import ...`` stays fast (no torch import).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "TrainConfig": "config",
    "CHECKPOINT_NAME": "checkpoint",
    "MODEL_NAME": "checkpoint",
    "CheckpointError": "checkpoint",
    "UnverifiedCheckpointWarning": "checkpoint",
    "load_training_checkpoint": "checkpoint",
    "ProgressBar": "metrics",
    "Evaluation": "loop",
    "TrainResult": "loop",
    "TrainingDiverged": "loop",
    "evaluate": "loop",
    "lr_factor": "setup",
    "train": "loop",
    "config_from_args": "command",
    "main": "command",
    "run": "command",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        module = importlib.import_module(f"dlnotes.train.{_EXPORTS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'dlnotes.train' has no attribute {name!r}")
