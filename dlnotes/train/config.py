"""The configuration of a training run, and its command-line flags.

:class:`TrainConfig` is a dataclass with a help text per field; the flags of
``dlnotes train`` are generated from it (:func:`add_arguments`), a YAML or TOML
file may hold the same keys (:func:`read_config_file`), and flags override file
values, which override the defaults. This module imports neither torch nor the
rest of the engine (:mod:`dlnotes.train`), so ``dlnotes --help`` stays fast.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import math
import tomllib
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "DATASETS",
    "TrainConfig",
    "add_arguments",
    "build_parser",
    "config_from_namespace",
    "read_config_file",
]

DATASETS = ("digits", "synthetic", "cifar10", "cifar100", "imagefolder")
"""The datasets :func:`dlnotes.train.data.load_dataset` knows."""


# ---------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------


def _opt(default: Any, help: str, choices: Sequence[str] | None = None) -> Any:
    """A config field with its help text (shown by ``--help``) and choices."""
    return field(default=default, metadata=_meta(help, choices))


def _meta(help: str, choices: Sequence[str] | None = None) -> dict[str, Any]:
    return {"help": help, "choices": tuple(choices) if choices else None}


# --8<-- [start:train-config]
@dataclass
class TrainConfig:
    """Everything a run needs; every field is also a ``dlnotes train`` flag."""

    # -- model --------------------------------------------------------------
    model: str = _opt("cifar_resnet20", "registry name (dlnotes.models.list_models)")
    model_kwargs: dict[str, Any] = field(
        default_factory=dict, metadata=_meta("builder arguments, YAML: '{shortcut: B}'")
    )
    # -- data ---------------------------------------------------------------
    dataset: str = _opt("digits", "which data", DATASETS)
    data_dir: str = _opt("data", "folder with CIFAR archives or the image folder")
    download: bool = _opt(False, "print where to get a missing dataset, then exit")
    image_size: int = _opt(32, "side of the images (digits/synthetic/imagefolder)")
    in_channels: int = _opt(3, "image channels (digits/synthetic/imagefolder)")
    num_classes: int = _opt(0, "classes; 0 = from the dataset (synthetic: 10)")
    digits_mode: str = _opt("upsample", "8x8 digits to image_size", ("upsample", "pad"))
    synthetic_train: int = _opt(1024, "synthetic training images")
    synthetic_test: int = _opt(256, "synthetic test images")
    test_fraction: float = _opt(0.2, "held-out share (digits, single image folder)")
    augment: str = _opt(
        "auto", "auto = crop-flip on CIFAR", ("auto", "none", "crop-flip")
    )
    mean: list[float] = field(
        default_factory=list, metadata=_meta("override the mean (0..1 scale)")
    )
    std: list[float] = field(
        default_factory=list, metadata=_meta("override the std (0..1 scale)")
    )
    # -- optimisation: SGD with momentum --------------------------------------
    batch_size: int = _opt(128, "global batch (split across torchrun processes)")
    epochs: int = _opt(10, "passes over the training set")
    lr: float = _opt(0.1, "peak learning rate (paper: 0.1 for batch 128)")
    momentum: float = _opt(0.9, "SGD momentum")
    nesterov: bool = _opt(False, "Nesterov momentum")
    weight_decay: float = _opt(1e-4, "L2 weight decay (paper: 1e-4)")
    schedule: str = _opt("step", "lr schedule", ("step", "cosine", "constant"))
    milestones: list[int] = field(
        default_factory=list, metadata=_meta("step: decay at; [] = 50%, 75%")
    )
    milestones_unit: str = _opt("epoch", "unit of milestones", ("epoch", "step"))
    gamma: float = _opt(0.1, "step: lr factor at each milestone")
    warmup_steps: int = _opt(0, "linear warm-up steps (0 = none)")
    # -- run ----------------------------------------------------------------
    seed: int = _opt(0, "seed of init, data order, augmentation, split")
    device: str = _opt("auto", "auto = cuda if available", ("auto", "cpu", "cuda"))
    amp: str = _opt(
        "none", "autocast dtype (fp16 adds GradScaler)", ("none", "bf16", "fp16")
    )
    channels_last: bool = _opt(False, "NHWC memory format (faster convs on GPU)")
    compile: bool = _opt(False, "torch.compile the model")
    deterministic: bool = _opt(False, "deterministic kernels only (slower on GPU)")
    num_workers: int = _opt(0, "DataLoader workers for image folders")
    out_dir: str = _opt("", "run folder; '' = runs/<model>-<dataset>")
    resume: bool = _opt(False, "continue from <out_dir>/checkpoint.pt")
    checkpoint_every_steps: int = _opt(0, "also checkpoint every N steps (0 = off)")
    checkpoint_every_epochs: int = _opt(1, "checkpoint every N epochs (0 = end only)")
    max_steps: int = _opt(0, "stop (resumably) after this step; 0 = all epochs")
    eval_every_epochs: int = _opt(1, "test-set evaluation every N epochs (0 = off)")
    log_every: int = _opt(10, "progress bar refresh / NaN check every N steps")
    progress: bool = _opt(True, "show the progress bar on stderr")
    plot: bool = _opt(True, "write metrics.png at the end")
    # --8<-- [end:train-config]

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first bad field and what it accepts."""
        for f in dataclasses.fields(self):
            choices = f.metadata.get("choices")
            value = getattr(self, f.name)
            if choices and value not in choices:
                raise ValueError(
                    f"{f.name} must be one of {', '.join(choices)}; got {value!r}"
                )
        positive = ["batch_size", "epochs", "image_size", "synthetic_train"]
        positive += ["synthetic_test", "log_every"]
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1; got {getattr(self, name)}")
        non_negative = ["num_classes", "warmup_steps", "num_workers", "max_steps"]
        non_negative += ["checkpoint_every_steps", "checkpoint_every_epochs"]
        non_negative += ["eval_every_epochs", "weight_decay", "momentum"]
        for name in non_negative:
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0; got {getattr(self, name)}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be a positive number; got {self.lr}")
        if not 0 < self.gamma <= 1:
            raise ValueError(f"gamma must be in (0, 1]; got {self.gamma}")
        if not 0 < self.test_fraction < 1:
            raise ValueError(
                f"test_fraction must be in (0, 1); got {self.test_fraction}"
            )
        if self.in_channels not in (1, 3) and self.dataset != "synthetic":
            raise ValueError(
                f"in_channels must be 1 or 3 for {self.dataset}; got {self.in_channels}"
            )
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov needs momentum > 0")
        if any(m < 0 for m in self.milestones) or self.milestones != sorted(
            self.milestones
        ):
            raise ValueError(
                f"milestones must be increasing and >= 0; got {self.milestones}"
            )
        if len(self.mean) != len(self.std):
            raise ValueError("mean and std must have the same length (one per channel)")
        if any(s <= 0 for s in self.std):
            raise ValueError(f"std must be > 0; got {self.std}")

    def run_dir(self) -> Path:
        """The run folder: ``out_dir`` or ``runs/<model>-<dataset>``."""
        return Path(self.out_dir or f"runs/{self.model}-{self.dataset}")

    def to_dict(self) -> dict[str, Any]:
        """Plain types only (YAML/JSON/``weights_only`` safe)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(
        cls, values: Mapping[str, Any], base: TrainConfig | None = None
    ) -> TrainConfig:
        """A config from ``values`` (unknown keys and wrong types: ValueError),
        on top of ``base`` (default: the defaults). Keys may use ``-`` or ``_``."""
        known = {f.name for f in dataclasses.fields(cls)}
        merged = dataclasses.asdict(base) if base is not None else {}
        for key, value in values.items():
            name = str(key).replace("-", "_")
            if name not in known:
                raise ValueError(
                    f"unknown config key {key!r}; "
                    f"known keys: {', '.join(sorted(known))}"
                )
            merged[name] = _coerce(name, value)
        return cls(**merged)

    @classmethod
    def from_file(
        cls, path: str | Path, base: TrainConfig | None = None
    ) -> TrainConfig:
        """A config from a ``.yaml``/``.yml`` or ``.toml`` file (a flat mapping)."""
        return cls.from_dict(read_config_file(path), base)


def _field_types() -> dict[str, Any]:
    return typing.get_type_hints(TrainConfig)


def _coerce(name: str, value: Any) -> Any:
    """Check ``value`` against the type of field ``name`` (ints are valid floats)."""
    tp = _field_types()[name]
    origin = typing.get_origin(tp)
    bad = ValueError(f"{name} must be {_type_name(tp)}; got {value!r}")
    if tp is bool:
        if not isinstance(value, bool):
            raise bad
    elif tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad
    elif tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad
        value = float(value)
    elif tp is str:
        if not isinstance(value, str):
            raise bad
    elif origin is list:
        (item,) = typing.get_args(tp)
        if not isinstance(value, list | tuple):
            raise bad
        items = []
        for v in value:
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise bad
            if item is int and not float(v).is_integer():
                raise bad
            items.append(item(v))
        value = items
    elif origin is dict:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise bad
        value = dict(value)
    return value


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is list:
        return f"a list of {typing.get_args(tp)[0].__name__}"
    if origin is dict:
        return "a mapping"
    return {bool: "true or false", int: "an integer", float: "a number"}.get(
        tp, "a string"
    )


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The mapping in a YAML (``.yaml``, ``.yml``) or TOML (``.toml``) file."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"config file {path} does not exist")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".toml":
            data: Any = tomllib.loads(text)
        elif path.suffix.lower() in (".yaml", ".yml"):
            data = yaml.safe_load(text) or {}
        else:
            raise ValueError(
                f"config file must end in .yaml, .yml or .toml; got {path}"
            )
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"config file {path} is not valid: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"config file {path} must hold a mapping of keys to values")
    return data


# ---------------------------------------------------------------------------
# Command line: flags generated from the dataclass
# ---------------------------------------------------------------------------


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit code 2, no usage block)."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _yaml_mapping(text: str) -> dict[str, Any]:
    try:
        value = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        raise argparse.ArgumentTypeError(f"not YAML: {exc}") from exc
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(
            f"expected a mapping like '{{a: 1}}', got {text!r}"
        )
    return value


class _ModelNames(Sequence[str]):
    """The names of the model registry, looked up on first use (``--help`` or a
    ``--model`` to check), so that building the parser does not import torch."""

    def _names(self) -> list[str]:
        from dlnotes.models import list_models

        return list_models()

    def __getitem__(self, index: Any) -> Any:
        return self._names()[index]

    def __len__(self) -> int:
        return len(self._names())

    def __contains__(self, name: object) -> bool:
        return name in self._names()


_MODELS = _ModelNames()


def _model_name(text: str) -> str:
    """A registered model name, else one line suggesting the nearest names."""
    if text not in _MODELS:
        close = difflib.get_close_matches(text, list(_MODELS), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise argparse.ArgumentTypeError(f"unknown model {text!r}{hint}")
    return text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--config FILE``, ``--print-config`` and one flag per
    :class:`TrainConfig` field to ``parser`` (e.g. the ``train`` subparser of
    the ``dlnotes`` command).

    Flags default to "not given" (``argparse.SUPPRESS``) so that they override
    the config file only when they are on the command line:
    defaults < ``--config`` file < flags.
    """
    hidden = argparse.SUPPRESS
    parser.add_argument(
        "--config",
        default=hidden,
        metavar="FILE",
        help="YAML or TOML file with config values",
    )
    parser.add_argument(
        "--print-config",
        action="store_true",
        default=hidden,
        help="print the final config (YAML) and exit",
    )
    types = _field_types()
    defaults = TrainConfig()
    for f in dataclasses.fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        tp = types[f.name]
        help_text = f"{f.metadata['help']} (default: {getattr(defaults, f.name)!r})"
        help_text = help_text.replace("%", "%%")  # argparse formats help with %
        kwargs: dict[str, Any] = {"help": help_text, "dest": f.name, "default": hidden}
        if tp is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif typing.get_origin(tp) is list:
            item = typing.get_args(tp)[0]
            kwargs.update(nargs="*", type=item, metavar="N" if item is int else "X")
        elif typing.get_origin(tp) is dict:
            kwargs.update(type=_yaml_mapping, metavar="YAML")
        elif f.name == "model":  # the registry's names, read only when needed
            kwargs.update(type=_model_name, choices=_MODELS, metavar="NAME")
            kwargs["help"] = help_text + "; one of: %(choices)s"
        else:
            kwargs["type"] = tp
            if f.metadata.get("choices"):
                kwargs["choices"] = f.metadata["choices"]
            else:
                kwargs["metavar"] = {int: "N", float: "X"}.get(tp, "TEXT")
        parser.add_argument(flag, **kwargs)


def build_parser(prog: str = "dlnotes train") -> argparse.ArgumentParser:
    """The stand-alone parser of ``python -m dlnotes.train`` (one-line errors)."""
    parser = Parser(
        prog=prog,
        description="Train a registered model (see docs/guide/training.md).",
    )
    add_arguments(parser)
    return parser


def config_from_namespace(
    args: argparse.Namespace | Mapping[str, Any],
) -> tuple[dict[str, Any], str | None, bool]:
    """Split parsed arguments into ``(explicit values, config file, print_only)``.

    ``explicit`` holds the config-file values overridden by the flags that were
    given; other entries of ``args`` (e.g. the ``dlnotes`` subcommand's own)
    are ignored. Raises ValueError for a bad config file.
    """
    ns = dict(vars(args) if isinstance(args, argparse.Namespace) else args)
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    path = ns.get("config")
    from_file = read_config_file(path) if path else {}
    flags = {k: v for k, v in ns.items() if k in known}
    return {**from_file, **flags}, path, bool(ns.get("print_config", False))
