"""The training engine: config, data, checkpoints, the loop, distributed runs.

``dlnotes.train.config`` has no torch import (the CLI parser is built from it);
the names below are loaded from :mod:`dlnotes.train.loop` on first use, so
``from dlnotes.train.config import ...`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

_LOOP_NAMES = {
    "CHECKPOINT_NAME",
    "CheckpointError",
    "config_from_args",
    "ProgressBar",
    "TrainingDiverged",
    "load_training_checkpoint",
    "lr_factor",
    "main",
    "run",
    "train",
}
_CONFIG_NAMES = {"TrainConfig"}

__all__ = sorted(_LOOP_NAMES | _CONFIG_NAMES)


def __getattr__(name: str) -> Any:
    if name in _LOOP_NAMES:
        return getattr(importlib.import_module("dlnotes.train.loop"), name)
    if name in _CONFIG_NAMES:
        return getattr(importlib.import_module("dlnotes.train.config"), name)
    raise AttributeError(f"module 'dlnotes.train' has no attribute {name!r}")
