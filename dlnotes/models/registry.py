"""One registry of named model builders (timm-style, variants registered as data)."""

from __future__ import annotations

import difflib
import fnmatch
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

__all__ = ["ModelEntry", "create_model", "list_models", "model_entry", "register_model"]

Builder = Callable[..., nn.Module]


@dataclass(frozen=True)
class ModelEntry:
    """A registered model.

    Attributes:
        name: registry name, e.g. ``"resnet50"``.
        builder: callable returning the ``nn.Module``; takes keyword arguments only.
        family: group name (``"resnet"``, ``"cifar"``, ``"vgg"``, ``"cnn"``).
        input_size: default input ``(C, H, W)``.
        description: one line for listings.
    """

    name: str
    builder: Builder
    family: str
    input_size: tuple[int, int, int]
    description: str = ""

    def accepted_kwargs(self) -> list[str]:
        """Names of the keyword arguments the builder accepts."""
        params = inspect.signature(self.builder).parameters.values()
        kinds = (
            inspect.Parameter.KEYWORD_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        )
        return [p.name for p in params if p.kind in kinds]


_REGISTRY: dict[str, ModelEntry] = {}
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


def register_model(
    name: str,
    builder: Builder,
    *,
    family: str,
    input_size: tuple[int, int, int],
    description: str = "",
) -> ModelEntry:
    """Register ``builder`` under ``name`` (lower-case, ``[a-z0-9_]``, unique)."""
    if not _NAME_RE.match(name):
        raise ValueError(f"name must match [a-z][a-z0-9_]*, got {name!r}")
    if name in _REGISTRY:
        raise ValueError(f"model {name!r} is already registered")
    entry = ModelEntry(name, builder, family, input_size, description)
    _REGISTRY[name] = entry
    return entry


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
