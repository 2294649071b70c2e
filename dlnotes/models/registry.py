"""One registry of named model builders, as in timm and torchvision.

Every public builder is registered by decorating it::

    @register_model(family="resnet", data_config=IMAGENET_DATA, train_defaults=...)
    def resnet18(*, num_classes: int = 1000, ...) -> ResNet: ...

The builder's own keyword-only signature is what :func:`create_model` accepts;
the entry carries the model's default data configuration (timm's
``pretrained_cfg``: input size, mean/std, interpolation, crop) and the
``dlnotes train`` settings that make it learn on its default dataset.
"""

from __future__ import annotations

import difflib
import fnmatch
import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

from torch import nn

__all__ = [
    "CIFAR10_DATA",
    "DIGITS_DATA",
    "IMAGENET_DATA",
    "DataConfig",
    "ModelEntry",
    "create_model",
    "list_models",
    "model_entry",
    "register_model",
]

Builder = Callable[..., nn.Module]
B = TypeVar("B", bound=Builder)

INTERPOLATIONS = ("nearest", "bilinear", "bicubic")


def check_normalization(
    mean: tuple[float, ...], std: tuple[float, ...], interpolation: str
) -> None:
    """ValueError unless mean/std have one value per channel, std > 0, and
    ``interpolation`` is one of :data:`INTERPOLATIONS`."""
    if len(mean) != len(std) or not mean:
        raise ValueError("mean and std must have one value per channel")
    if min(std) <= 0:
        raise ValueError(f"std must be > 0, got {std}")
    if interpolation not in INTERPOLATIONS:
        raise ValueError(
            f"interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}"
        )


# --8<-- [start:data-config]
@dataclass(frozen=True)
class DataConfig:
    """How a model's inputs are prepared (timm's ``pretrained_cfg``).

    Attributes:
        input_size: ``(C, H, W)`` the network is built for.
        mean: per-channel mean subtracted from ``[0, 1]`` pixel values.
        std: per-channel standard deviation divided by.
        interpolation: "nearest", "bilinear" or "bicubic" for resizing.
        crop_pct: share of the resized image kept by the centre crop; the
            shorter side is resized to ``floor(H / crop_pct)`` first
            (torchvision's ImageNet eval: 224 / 0.875 = 256). 1.0: no crop.
    """

    input_size: tuple[int, int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    interpolation: str = "bilinear"
    crop_pct: float = 1.0

    def __post_init__(self) -> None:
        if len(self.input_size) != 3 or min(self.input_size) < 1:
            raise ValueError(
                f"input_size must be (C, H, W) >= 1, got {self.input_size}"
            )
        check_normalization(self.mean, self.std, self.interpolation)
        if len(self.mean) != self.input_size[0]:
            raise ValueError(f"mean and std must have {self.input_size[0]} values (C)")
        if not 0 < self.crop_pct <= 1:
            raise ValueError(f"crop_pct must be in (0, 1], got {self.crop_pct}")

    @property
    def resize_size(self) -> int | None:
        """Shorter side before the centre crop, or None (resize to input_size)."""
        if self.crop_pct == 1.0:
            return None
        return int(min(self.input_size[1:]) / self.crop_pct)  # floor, as timm


IMAGENET_DATA = DataConfig(
    input_size=(3, 224, 224),
    mean=(0.485, 0.456, 0.406),
    std=(0.229, 0.224, 0.225),
    interpolation="bilinear",
    crop_pct=0.875,
)
"""torchvision's ImageNet weights: resize 256, centre crop 224, normalise."""

CIFAR10_DATA = DataConfig(
    input_size=(3, 32, 32),
    mean=(0.4914, 0.4822, 0.4465),
    std=(0.2470, 0.2435, 0.2616),
)
"""CIFAR-10 training-set statistics (per channel, over all 50,000 images)."""

DIGITS_DATA = DataConfig(
    input_size=(3, 32, 32),
    mean=(0.3053,) * 3,
    std=(0.3236,) * 3,
)
"""scikit-learn's 1,797 digits as ``dlnotes train`` loads them by default: 8x8
upsampled (bilinear) to 32x32, grey repeated to 3 channels, in ``[0, 1]``."""
# --8<-- [end:data-config]


@dataclass(frozen=True)
class ModelEntry:
    """A registered model.

    Attributes:
        name: registry name, e.g. ``"resnet50"`` (the builder's ``__name__``).
        builder: the public builder; takes keyword arguments only.
        family: group name (``"resnet"``, ``"cifar"``, ``"vgg"``, ``"classic"``...).
        data_config: default input preparation (see :class:`DataConfig`).
        train_defaults: :class:`dlnotes.train.config.TrainConfig` field -> value
            that ``dlnotes train --model NAME`` starts from, so that the model
            learns on its default dataset; flags and config files override them.
        description: one line for listings (the builder's docstring summary).
    """

    name: str
    builder: Builder
    family: str
    data_config: DataConfig
    train_defaults: Mapping[str, Any] = field(
        default_factory=lambda: MappingProxyType({})
    )
    description: str = ""

    @property
    def input_size(self) -> tuple[int, int, int]:
        """Default input ``(C, H, W)``, from :attr:`data_config`."""
        return self.data_config.input_size

    def accepted_kwargs(self) -> list[str]:
        """Names of the keyword arguments the builder accepts."""
        return list(inspect.signature(self.builder).parameters)


_REGISTRY: dict[str, ModelEntry] = {}
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


def _check_signature(name: str, builder: Builder) -> None:
    """Builders are called as ``builder(**kwargs)``: every argument needs a
    default and a name (no positional-only parameters, no ``*args``)."""
    for p in inspect.signature(builder).parameters.values():
        if p.kind not in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD):
            raise ValueError(
                f"{name}: builder parameter {p.name!r} must be a named keyword "
                "argument (no *args, **kwargs or positional-only parameters)"
            )
        if p.default is p.empty:
            raise ValueError(f"{name}: builder parameter {p.name!r} needs a default")


# --8<-- [start:register-model]
def register_model(
    *,
    family: str,
    data_config: DataConfig,
    train_defaults: Mapping[str, Any] | None = None,
    name: str | None = None,
) -> Callable[[B], B]:
    """Decorator: register the public builder under its own name (or ``name``).

    The builder is returned unchanged, so ``resnet18()`` and
    ``create_model("resnet18")`` are the same call.
    """

    def decorate(builder: B) -> B:
        key = name or builder.__name__
        if not _NAME_RE.match(key):
            raise ValueError(f"name must match [a-z][a-z0-9_]*, got {key!r}")
        if key in _REGISTRY:
            raise ValueError(f"model {key!r} is already registered")
        _check_signature(key, builder)
        doc = inspect.getdoc(builder) or ""
        _REGISTRY[key] = ModelEntry(
            name=key,
            builder=builder,
            family=family,
            data_config=data_config,
            train_defaults=MappingProxyType(dict(train_defaults or {})),
            description=doc.split("\n", 1)[0],
        )
        return builder

    return decorate


# --8<-- [end:register-model]


def _natural_key(name: str) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def list_models(pattern: str = "*", *, family: str | None = None) -> list[str]:
    """Registered names matching the shell ``pattern``, in natural order."""
    names = [
        n
        for n, e in _REGISTRY.items()
        if fnmatch.fnmatchcase(n, pattern) and (family is None or e.family == family)
    ]
    return sorted(names, key=_natural_key)


def model_entry(name: str) -> ModelEntry:
    """The :class:`ModelEntry` of ``name``; ValueError listing the choices."""
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ValueError(
            f"unknown model {name!r}{hint}; choose one of: {', '.join(list_models())}"
        )
    return _REGISTRY[name]


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build the registered model ``name`` with keyword arguments ``kwargs``.

    >>> create_model("cifar_resnet20", shortcut="B").fc.out_features
    10

    Raises ValueError for an unknown name or an argument the builder does not
    take, naming the choices; the builders raise ValueError for bad values.
    """
    entry = model_entry(name)
    accepted = entry.accepted_kwargs()
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ValueError(
            f"{name} does not take argument(s) {', '.join(unknown)}; "
            f"it accepts: {', '.join(accepted)}"
        )
    return entry.builder(**kwargs)
