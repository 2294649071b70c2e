"""Load torchvision checkpoints (e.g. ``resnet18-f37072fd.pth``) into dlnotes models.

torchvision is not a dependency: its ResNet checkpoints are plain ``state_dict``
files, and the v1.5 ResNets of :mod:`dlnotes.models.resnet` (and the 224x224 VGGs)
have exactly torchvision's parameter names and shapes. Download the file
yourself (nothing here touches the network) and::

    net = create_model("resnet18")
    load_torchvision_checkpoint(net, "resnet18-f37072fd.pth")

The file is only read, with ``torch.load(path, map_location="cpu",
weights_only=True)``, which refuses pickles that would run code. Before anything
is copied, the keys and shapes are compared with the model; any difference
raises :class:`StateDictMismatchError` listing the missing, unexpected and
mis-shaped keys (with both shapes), and leaves the model untouched.

Note: torchvision's ResNet-50/101/152 weights were trained as v1.5 (stride on
the 3x3 convolution). They *load* into the v1 model too (same keys and shapes),
but that network computes something else with them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

__all__ = [
    "StateDictMismatchError",
    "StateDictReport",
    "compare_state_dict",
    "load_state_dict_checked",
    "load_torchvision_checkpoint",
    "read_state_dict",
]

_WRAPPER_KEYS = ("state_dict", "model")
# BN's batch counter: absent from old checkpoints, carries no learned value.
_OPTIONAL_SUFFIXES = (".num_batches_tracked",)


@dataclass
class StateDictReport:
    """How a checkpoint's ``state_dict`` differs from a model's."""

    missing: list[str] = field(default_factory=list)  # in model, not in file
    unexpected: list[str] = field(default_factory=list)  # in file, not in model
    # (key, shape in the file, shape in the model)
    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(
        default_factory=list
    )

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def format(self, limit: int = 20) -> str:
        """A readable, multi-line description (at most ``limit`` keys per kind)."""

        def block(title: str, items: list[str]) -> list[str]:
            if not items:
                return []
            lines = [f"{title} ({len(items)}):"]
            lines += [f"  {item}" for item in items[:limit]]
            if len(items) > limit:
                lines.append(f"  ... and {len(items) - limit} more")
            return lines

        shapes = [
            f"{k}: checkpoint {list(a)} vs model {list(b)}"
            for k, a, b in self.mismatched
        ]
        return "\n".join(
            block("missing keys (in the model, not in the checkpoint)", self.missing)
            + block(
                "unexpected keys (in the checkpoint, not in the model)", self.unexpected
            )
            + block("mis-shaped keys", shapes)
        )


class StateDictMismatchError(ValueError):
    """The checkpoint does not fit the model; ``report`` says how."""

    def __init__(self, message: str, report: StateDictReport) -> None:
        super().__init__(message)
        self.report = report


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, Tensor]:
    """Read a ``state_dict`` from a checkpoint file, never modifying the file.

    Accepts a plain ``state_dict``, or a dict holding it under ``"state_dict"``
    or ``"model"``; a ``"module."`` prefix on every key (from DataParallel or
    DistributedDataParallel) is removed.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        obj: Any = torch.load(path, map_location="cpu", weights_only=True)
    except OSError:
        raise
    except Exception as exc:  # pickle, zip and unpickler errors: not a checkpoint
        raise ValueError(
            f"{path} is not a PyTorch checkpoint that torch.load(weights_only=True) "
            f"can read: {type(exc).__name__}: {str(exc).splitlines()[0]}"
        ) from exc
    for key in _WRAPPER_KEYS:
        if isinstance(obj, Mapping) and isinstance(obj.get(key), Mapping):
            obj = obj[key]
            break
    if not isinstance(obj, Mapping) or not obj:
        raise ValueError(
            f"{path} does not hold a state_dict (a non-empty dict of tensors), "
            f"got {type(obj).__name__}"
        )
    bad = [
        k for k, v in obj.items() if not isinstance(k, str) or not torch.is_tensor(v)
    ]
    if bad:
        raise ValueError(f"{path}: these entries are not tensors: {bad[:5]}")
    state = dict(obj)
    if all(k.startswith("module.") for k in state):
        state = {k.removeprefix("module."): v for k, v in state.items()}
    return state


def compare_state_dict(
    model: nn.Module, state_dict: Mapping[str, Tensor], *, exclude: Iterable[str] = ()
) -> StateDictReport:
    """Keys missing, unexpected and mis-shaped between ``model`` and ``state_dict``.

    Keys starting with a prefix in ``exclude`` (e.g. ``"fc."``) are ignored on
    both sides. A missing ``num_batches_tracked`` is not reported.
    """
    skip = tuple(exclude)
    own = {k: v for k, v in model.state_dict().items() if not k.startswith(skip)}
    theirs = {k: v for k, v in state_dict.items() if not k.startswith(skip)}
    report = StateDictReport()
    report.missing = [
        k for k in own if k not in theirs and not k.endswith(_OPTIONAL_SUFFIXES)
    ]
    report.unexpected = [k for k in theirs if k not in own]
    report.mismatched = [
        (k, tuple(theirs[k].shape), tuple(v.shape))
        for k, v in own.items()
        if k in theirs and theirs[k].shape != v.shape
    ]
    return report


def load_state_dict_checked(
    model: nn.Module, state_dict: Mapping[str, Tensor], *, exclude: Iterable[str] = ()
) -> nn.Module:
    """Copy ``state_dict`` into ``model`` only if keys and shapes all match.

    Raises :class:`StateDictMismatchError` (a ValueError) otherwise; the model
    is then unchanged. Returns ``model``.
    """
    skip = tuple(exclude)
    report = compare_state_dict(model, state_dict, exclude=skip)
    if not report.ok:
        raise StateDictMismatchError(
            f"the checkpoint does not fit {model.__class__.__name__}:\n"
            + report.format(),
            report,
        )
    kept = {k: v for k, v in state_dict.items() if not k.startswith(skip)}
    model.load_state_dict(kept, strict=False)
    return model


def load_torchvision_checkpoint(
    model: nn.Module, path: str | os.PathLike[str], *, exclude: Iterable[str] = ()
) -> nn.Module:
    """Load a torchvision checkpoint file into ``model`` (see the module doc).

    ``exclude=["fc."]`` keeps the model's own classifier (e.g. 10 classes instead
    of ImageNet's 1000) and loads everything else.
    """
    state = read_state_dict(path)
    try:
        return load_state_dict_checked(model, state, exclude=exclude)
    except StateDictMismatchError as err:
        raise StateDictMismatchError(f"{path}: {err}", err.report) from None
