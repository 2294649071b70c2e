"""Transfer learning: reuse a network trained on one dataset for another.

The three ways of the CS231n notes (https://cs231n.github.io/transfer-learning/):

1. **ConvNet as a fixed feature extractor**: remove the last fully connected
   layer, freeze the rest, and train a new classifier on the features
   (:func:`freeze`, :func:`replace_head`, :func:`extract_features`).
2. **Fine-tuning**: keep training (some of) the pretrained weights with
   backpropagation, usually with a smaller learning rate for the backbone
   (:func:`param_groups`).
3. **Pretrained models**: start from the released weights of somebody else's
   long training run (:mod:`dlnotes.models.torchvision_compat`) - and feed them
   inputs preprocessed the way they were trained (:class:`Preprocessing`, which
   travels inside the checkpoint: :func:`save_checkpoint`, :func:`load_checkpoint`).

BatchNorm rule for frozen parts: a frozen BN layer is a fixed affine map
``y = (x - running_mean) / sqrt(running_var + eps) * weight + bias``. Its
``weight``/``bias`` get ``requires_grad=False``, and it stays in eval mode - it
normalises with the stored running statistics and never updates them - even when
``model.train()`` is called later. :func:`freeze` does this by switching the layer
to a ``Frozen*`` subclass whose ``train()`` always means ``eval()``;
:func:`unfreeze` switches it back.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dlnotes.models.registry import (
    IMAGENET_DATA,
    DataConfig,
    check_normalization,
    create_model,
    model_entry,
)
from dlnotes.train.checkpoint import CheckpointError, load_file, save_file

__all__ = [
    "IMAGENET_PREPROCESSING",
    "Checkpoint",
    "FrozenBatchNorm1d",
    "FrozenBatchNorm2d",
    "FrozenBatchNorm3d",
    "NoHead",
    "PreprocessedModel",
    "Preprocessing",
    "TransferAdvice",
    "count_parameters",
    "extract_features",
    "forward_features",
    "freeze",
    "get_head",
    "load_checkpoint",
    "load_pretrained",
    "param_groups",
    "preprocessing_for",
    "replace_head",
    "reset_classifier",
    "save_checkpoint",
    "transfer_advice",
    "unfreeze",
]


# ---------------------------------------------------------------------------
# Freezing, with the BatchNorm rule
# ---------------------------------------------------------------------------


# --8<-- [start:frozen-bn]
class _FrozenBatchNormMixin:
    """A BN layer that stays in eval mode: ``train(True)`` is ignored."""

    def train(self, mode: bool = True) -> Any:
        return super().train(False)  # type: ignore[misc]


class FrozenBatchNorm1d(_FrozenBatchNormMixin, nn.BatchNorm1d):
    """``nn.BatchNorm1d`` frozen by :func:`freeze` (same state_dict)."""


class FrozenBatchNorm2d(_FrozenBatchNormMixin, nn.BatchNorm2d):
    """``nn.BatchNorm2d`` frozen by :func:`freeze` (same state_dict)."""


class FrozenBatchNorm3d(_FrozenBatchNormMixin, nn.BatchNorm3d):
    """``nn.BatchNorm3d`` frozen by :func:`freeze` (same state_dict)."""


_FROZEN_BN: dict[type[nn.Module], type[nn.Module]] = {
    nn.BatchNorm1d: FrozenBatchNorm1d,
    nn.BatchNorm2d: FrozenBatchNorm2d,
    nn.BatchNorm3d: FrozenBatchNorm3d,
}
_UNFROZEN_BN = {frozen: plain for plain, frozen in _FROZEN_BN.items()}
# --8<-- [end:frozen-bn]


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


# --8<-- [start:freeze]
def freeze(module: nn.Module, *, exclude: Iterable[str] = ()) -> nn.Module:
    """Freeze ``module`` in place, except the sub-modules named in ``exclude``.

    Every parameter gets ``requires_grad=False``; every ``nn.BatchNorm1d/2d/3d``
    becomes a ``FrozenBatchNorm*d`` that stays in eval mode (running statistics
    used and never updated, even after ``module.train()``). Returns ``module``.

    >>> freeze(net, exclude=["fc"])   # a fixed feature extractor + trainable head
    """
    skip = tuple(exclude)
    names = dict(module.named_modules())
    for name in skip:
        if name not in names:
            raise ValueError(f"exclude: {module.__class__.__name__} has no {name!r}")
    for name, sub in module.named_modules():
        if _under(name, skip):
            continue
        for p in sub.parameters(recurse=False):
            p.requires_grad_(False)
        if type(sub) in _FROZEN_BN:
            sub.__class__ = _FROZEN_BN[type(sub)]  # same object, same state_dict
            sub.train(False)
    return module


def unfreeze(module: nn.Module) -> nn.Module:
    """Undo :func:`freeze` on ``module``: trainable again, BN back to normal.

    Unfrozen BN layers take the training mode of ``module``.
    """
    for sub in module.modules():
        for p in sub.parameters(recurse=False):
            p.requires_grad_(True)
        if type(sub) in _UNFROZEN_BN:
            sub.__class__ = _UNFROZEN_BN[type(sub)]
            sub.train(module.training)
    return module


# --8<-- [end:freeze]


def count_parameters(module: nn.Module, *, trainable: bool | None = None) -> int:
    """Number of parameters (all, only trainable, or only frozen ones)."""
    return sum(
        p.numel()
        for p in module.parameters()
        if trainable is None or p.requires_grad == trainable
    )


# ---------------------------------------------------------------------------
# The classifier head
# ---------------------------------------------------------------------------


def _head_name(model: nn.Module) -> str:
    name = getattr(model, "classifier_name", None)
    if isinstance(name, str):
        return name
    linears = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(
            f"{model.__class__.__name__} has no classifier_name and no nn.Linear"
        )
    return linears[-1]


def get_head(model: nn.Module) -> nn.Module:
    """The classifier layer (``model.classifier_name``, else the last Linear)."""
    return model.get_submodule(_head_name(model))


class NoHead(nn.Identity):
    """The identity in place of a removed classifier; remembers ``in_features``."""

    def __init__(self, in_features: int) -> None:
        super().__init__()
        self.in_features = in_features


# --8<-- [start:replace-head]
def replace_head(model: nn.Module, num_classes: int) -> nn.Module:
    """Put a new, trainable ``nn.Linear(in_features, num_classes)`` in place of
    the classifier; ``num_classes=0`` puts ``nn.Identity`` there, so the model
    returns its pooled features. Returns the new head.
    """
    if num_classes < 0:
        raise ValueError(f"num_classes must be >= 0, got {num_classes}")
    name = _head_name(model)
    old = model.get_submodule(name)
    in_features = old.in_features if isinstance(old, nn.Linear | NoHead) else None
    if in_features is None:
        raise ValueError(f"the head {name!r} is a {type(old).__name__}, not nn.Linear")
    device = next(model.parameters()).device
    new: nn.Module
    if num_classes == 0:
        new = NoHead(in_features)
    else:
        new = nn.Linear(in_features, num_classes, device=device)
    parent_name, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent_name), child, new)
    return new


# --8<-- [end:replace-head]


def reset_classifier(model: nn.Module, num_classes: int) -> nn.Module:
    """timm's name for :func:`replace_head`."""
    return replace_head(model, num_classes)


# ---------------------------------------------------------------------------
# Features
# ---------------------------------------------------------------------------


class _Stop(Exception):
    pass


def forward_features(
    model: nn.Module, x: Tensor, *, layer: str | None = None, pool: bool = True
) -> Tensor:
    """Features of ``x``: the output of sub-module ``layer`` (e.g. ``"layer3"``),
    or, without ``layer``, the model's last feature map (``forward_features``).

    With ``pool`` a 4-D map ``(N, C, H, W)`` is globally averaged to ``(N, C)``.
    The forward pass stops at ``layer``, so earlier layers cost nothing more.
    """
    if layer is None:
        if not hasattr(model, "forward_features"):
            raise ValueError(
                f"{model.__class__.__name__} has no forward_features; pass layer="
            )
        out = cast(Callable[[Tensor], Tensor], model.forward_features)(x)
    else:
        names = dict(model.named_modules())
        if layer not in names:
            raise ValueError(f"layer must name a sub-module, got {layer!r}")
        captured: list[Tensor] = []

        def hook(_m: nn.Module, _i: Any, output: Tensor) -> None:
            captured.append(output)
            raise _Stop

        handle = names[layer].register_forward_hook(hook)
        try:
            model(x)
        except _Stop:
            pass
        finally:
            handle.remove()
        out = captured[0]
    if pool and out.dim() == 4:
        out = out.mean(dim=(2, 3))  # (N, C, H, W) -> (N, C)
    return out


def _batches(data: Tensor | Iterable[Any], batch_size: int) -> Iterator[Tensor]:
    if isinstance(data, Tensor):
        yield from data.split(batch_size)
        return
    for batch in data:
        yield batch[0] if isinstance(batch, list | tuple) else batch


@torch.no_grad()
def extract_features(
    model: nn.Module,
    data: Tensor | Iterable[Any],
    *,
    layer: str | None = None,
    pool: bool = True,
    batch_size: int = 256,
) -> Tensor:
    """Features of every input in ``data`` (a tensor, or a loader of tensors or
    ``(inputs, targets)`` pairs), computed in eval mode without gradients.

    Returns ``(N, D)`` with ``pool`` (``D`` = channels of the feature map). The
    model's training flags are restored afterwards.
    """
    modes = {m: m.training for m in model.modules()}
    device = next(model.parameters()).device
    model.eval()
    try:
        feats = [
            forward_features(model, x.to(device), layer=layer, pool=pool)
            for x in _batches(data, batch_size)
        ]
    finally:
        for m, mode in modes.items():
            m.training = mode
    if not feats:
        raise ValueError("data must contain at least one batch")
    return torch.cat(feats)


# ---------------------------------------------------------------------------
# Learning rates for fine-tuning
# ---------------------------------------------------------------------------


# --8<-- [start:param-groups]
def param_groups(
    model: nn.Module,
    lr: float,
    backbone_lr_mult: float = 0.1,
    *,
    head: str | None = None,
) -> list[dict[str, Any]]:
    """Two optimiser parameter groups: the head at ``lr``, the pretrained
    backbone at ``lr * backbone_lr_mult`` (small steps keep what it learned).

    Only trainable parameters are included. ``head`` names the head sub-module
    (default: ``model.classifier_name`` or the last ``nn.Linear``).

    >>> torch.optim.SGD(param_groups(net, lr=0.01), momentum=0.9)
    """
    if not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"lr must be a positive number, got {lr}")
    if not (backbone_lr_mult >= 0 and math.isfinite(backbone_lr_mult)):
        raise ValueError(f"backbone_lr_mult must be >= 0, got {backbone_lr_mult}")
    prefix = head if head is not None else _head_name(model)
    head_params: list[nn.Parameter] = []
    backbone_params: list[nn.Parameter] = []
    for name, p in model.named_parameters():
        if p.requires_grad:
            in_head = _under(name.rpartition(".")[0], (prefix,))
            (head_params if in_head else backbone_params).append(p)
    if not head_params:
        raise ValueError(f"head {prefix!r} has no trainable parameters")
    groups = [{"params": head_params, "lr": lr, "name": "head"}]
    if backbone_params:
        backbone_lr = lr * backbone_lr_mult
        groups.append(
            {"params": backbone_params, "lr": backbone_lr, "name": "backbone"}
        )
    return groups


# --8<-- [end:param-groups]


# ---------------------------------------------------------------------------
# Preprocessing that travels with the weights
# ---------------------------------------------------------------------------


# --8<-- [start:preprocessing]
@dataclass(frozen=True)
class Preprocessing:
    """How inputs were prepared when the model was trained.

    Attributes:
        input_size: ``(H, W)`` the network sees (after the crop).
        mean: per-channel mean subtracted from ``[0, 1]`` pixel values.
        std: per-channel standard deviation divided by.
        interpolation: "nearest", "bilinear" or "bicubic" for resizing.
        resize_size: shorter side to resize to before the centre crop
            (ImageNet: 256 then crop 224); ``None`` resizes straight to
            ``input_size``.
    """

    input_size: tuple[int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    interpolation: str = "bilinear"
    resize_size: int | None = None

    def __post_init__(self) -> None:
        if len(self.input_size) != 2 or min(self.input_size) < 1:
            raise ValueError(f"input_size must be (H, W) >= 1, got {self.input_size}")
        check_normalization(self.mean, self.std, self.interpolation)
        if self.resize_size is not None and self.resize_size < max(self.input_size):
            raise ValueError("resize_size must be >= the crop (input_size)")

    def __call__(self, x: Tensor) -> Tensor:
        """``(N, C, H, W)`` or ``(C, H, W)`` images (uint8 0..255 or float 0..1)
        -> float ``(N, C, *input_size)``: resize, centre crop, normalise."""
        if x.dim() == 3:
            x = x.unsqueeze(0)
        if x.dim() != 4 or x.shape[1] != len(self.mean):
            raise ValueError(
                f"x must be (N, {len(self.mean)}, H, W), got {tuple(x.shape)}"
            )
        x = x.float() / 255 if not x.is_floating_point() else x
        h, w = x.shape[-2:]
        if self.resize_size is not None:  # shorter side -> resize_size
            scale = self.resize_size / min(h, w)
            size = (round(h * scale), round(w * scale))
        else:
            size = self.input_size
        if (h, w) != size:
            smooth = self.interpolation != "nearest"
            x = F.interpolate(x, size=size, mode=self.interpolation, antialias=smooth)
        top = (x.shape[-2] - self.input_size[0]) // 2
        left = (x.shape[-1] - self.input_size[1]) // 2
        x = x[..., top : top + self.input_size[0], left : left + self.input_size[1]]
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device)
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device)
        return (x - mean[:, None, None]) / std[:, None, None]

    def to_dict(self) -> dict[str, Any]:
        """Plain types only, safe for ``torch.load(weights_only=True)``."""
        d = asdict(self)
        d["input_size"], d["mean"], d["std"] = (
            list(self.input_size),
            list(self.mean),
            list(self.std),
        )
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Preprocessing:
        return cls(
            input_size=(int(d["input_size"][0]), int(d["input_size"][1])),
            mean=tuple(float(v) for v in d["mean"]),
            std=tuple(float(v) for v in d["std"]),
            interpolation=str(d.get("interpolation", "bilinear")),
            resize_size=None if d.get("resize_size") is None else int(d["resize_size"]),
        )

    @classmethod
    def from_data_config(cls, cfg: DataConfig) -> Preprocessing:
        """The transform a registered model's :class:`DataConfig` describes."""
        return cls(
            input_size=(cfg.input_size[1], cfg.input_size[2]),
            mean=cfg.mean,
            std=cfg.std,
            interpolation=cfg.interpolation,
            resize_size=cfg.resize_size,
        )


def preprocessing_for(model_name: str) -> Preprocessing:
    """The default preprocessing of a registered model, from its registry entry
    (timm's ``resolve_data_config``): ``preprocessing_for("resnet50")`` resizes
    to 256, crops 224 and normalises with the ImageNet statistics."""
    return Preprocessing.from_data_config(model_entry(model_name).data_config)


IMAGENET_PREPROCESSING = Preprocessing.from_data_config(IMAGENET_DATA)
"""torchvision's ImageNet evaluation transform: resize 256, crop 224, normalise."""
# --8<-- [end:preprocessing]


class PreprocessedModel(nn.Module):
    """``model`` that applies its training ``preprocessing`` to raw images first."""

    def __init__(self, model: nn.Module, preprocessing: Preprocessing) -> None:
        super().__init__()
        self.model = model
        self.preprocessing = preprocessing

    def forward(self, x: Tensor) -> Tensor:
        return self.model(self.preprocessing(x))


# ---------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------

_FORMAT = "dlnotes.transfer.checkpoint"


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` returns."""

    state_dict: dict[str, Tensor]
    preprocessing: Preprocessing
    model_name: str | None = None
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


# --8<-- [start:checkpoint]
def save_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module,
    preprocessing: Preprocessing,
    *,
    model_name: str | None = None,
    model_kwargs: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write weights + preprocessing (+ registry name and kwargs) to ``path``.

    One file format with the training checkpoints
    (:func:`dlnotes.train.checkpoint.save_file`): written atomically (a crash
    never leaves half a file) and sealed with a SHA-256 checksum that
    :func:`load_checkpoint` verifies. Only plain types are stored, so it is read
    back with ``torch.load(weights_only=True)``.
    """
    payload = {
        "format": _FORMAT,
        "version": 1,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "preprocessing": preprocessing.to_dict(),
        "model_name": model_name,
        "model_kwargs": dict(model_kwargs or {}),
        "extra": dict(extra or {}),
    }
    return save_file(payload, path)


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read a file written by :func:`save_checkpoint`: checksum verified first,
    then ``torch.load(weights_only=True)``. A corrupt, refused or foreign file
    raises :class:`~dlnotes.train.checkpoint.CheckpointError` (a ValueError)
    with one line, e.g. ``model.pt is corrupt: checksum mismatch``."""
    obj = load_file(path)
    if not isinstance(obj, dict) or obj.get("format") != _FORMAT:
        raise CheckpointError(f"{path} is not a dlnotes transfer checkpoint")
    return Checkpoint(
        state_dict=obj["state_dict"],
        preprocessing=Preprocessing.from_dict(obj["preprocessing"]),
        model_name=obj.get("model_name"),
        model_kwargs=dict(obj.get("model_kwargs") or {}),
        extra=dict(obj.get("extra") or {}),
    )


def load_pretrained(
    path: str | os.PathLike[str], model: nn.Module | None = None
) -> PreprocessedModel:
    """Rebuild the model of a checkpoint (from the registry name unless
    ``model`` is given), load its weights, and wrap it so that every input goes
    through the preprocessing it was trained with.
    """
    ckpt = load_checkpoint(path)
    if model is None:
        if ckpt.model_name is None:
            raise ValueError(f"{path} stores no model_name; pass model=")
        model = create_model(ckpt.model_name, **ckpt.model_kwargs)
    model.load_state_dict(ckpt.state_dict)
    return PreprocessedModel(model, ckpt.preprocessing)


# --8<-- [end:checkpoint]


# ---------------------------------------------------------------------------
# Which way to transfer
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TransferAdvice:
    """One cell of the CS231n advice table."""

    dataset_size: str
    similarity: str
    strategy: str  # machine-readable key
    train: str  # what to train
    reason: str


# --8<-- [start:transfer-advice]
_ADVICE: dict[tuple[str, str], tuple[str, str, str]] = {
    ("small", "similar"): (
        "linear-classifier-on-top-features",
        "a linear classifier on the last-layer features; the ConvNet stays frozen",
        "fine-tuning would overfit; the top features already fit the new data",
    ),
    ("large", "similar"): (
        "fine-tune",
        "the whole network, starting from the pretrained weights",
        "enough data to fine-tune without overfitting",
    ),
    ("small", "different"): (
        "classifier-on-earlier-features",
        "a linear classifier (e.g. SVM) on activations from earlier layers",
        "top features are specific to the old data; generic early ones transfer",
    ),
    ("large", "different"): (
        "fine-tune-or-from-scratch",
        "the whole network: fine-tune, or train from scratch",
        "enough data to train from scratch; pretrained init still often helps",
    ),
}
DATASET_SIZES = ("small", "large")
SIMILARITIES = ("similar", "different")


def transfer_advice(dataset_size: str, similarity: str) -> TransferAdvice:
    """CS231n's advice by new-dataset size and similarity to the original data."""
    if dataset_size not in DATASET_SIZES:
        raise ValueError(
            f"dataset_size must be one of {DATASET_SIZES}, got {dataset_size!r}"
        )
    if similarity not in SIMILARITIES:
        raise ValueError(
            f"similarity must be one of {SIMILARITIES}, got {similarity!r}"
        )
    strategy, train, reason = _ADVICE[dataset_size, similarity]
    return TransferAdvice(dataset_size, similarity, strategy, train, reason)


# --8<-- [end:transfer-advice]
