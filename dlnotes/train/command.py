"""``dlnotes train`` (and ``python -m dlnotes.train``): flags -> config -> run.

What a user sees on stderr: one line per epoch (with the progress bar), a line
when a run resumes, a warning when the first epoch ends at chance level, and
always one summary line at the end (also with ``--no-progress``). Exit codes:
0 done (or stopped at ``--max-steps``), 1 the loss became NaN/inf, 2 a bad
config, missing data or an unusable checkpoint (one line, no traceback),
3 the run finished but its accuracy is still at chance level, 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TextIO

import yaml

from dlnotes.models import model_entry
from dlnotes.train.checkpoint import (
    CHECKPOINT_NAME,
    UnverifiedCheckpointWarning,
    load_training_checkpoint,
)
from dlnotes.train.config import TrainConfig, build_parser, config_from_namespace
from dlnotes.train.data import DatasetNotFoundError
from dlnotes.train.loop import TrainingDiverged, TrainResult, train

__all__ = ["EXIT_AT_CHANCE", "config_from_args", "main", "model_defaults", "run"]

PROG = "dlnotes train"
EXIT_AT_CHANCE = 3


def model_defaults(name: str) -> Mapping[str, Any]:
    """The registry's default settings of model ``name`` (``train_defaults``:
    e.g. a learning rate that makes it learn); {} for an unknown name (the run
    then fails with the registry's own error)."""
    try:
        entry = model_entry(name)
    except (KeyError, ValueError):
        return {}
    return dict(entry.train_defaults)


def config_from_args(
    args: Sequence[str] | argparse.Namespace | None = None,
) -> tuple[TrainConfig, bool]:
    """The config of a command line: defaults, then the model's registry
    defaults (:func:`model_defaults`), then the ``--config`` file, then the
    flags. ``args`` is an argv list or an already parsed namespace.

    With ``--resume`` the run's saved config is the base instead, so
    ``dlnotes train --resume --out-dir runs/x`` continues run x.
    Returns ``(config, print_only)``; raises ValueError on a bad value.
    """
    if not isinstance(args, argparse.Namespace):
        args = build_parser().parse_args(args)
    explicit, _, print_only = config_from_namespace(args)
    model = explicit.get("model", TrainConfig.model)
    base = TrainConfig.from_dict(model_defaults(str(model)))
    config = TrainConfig.from_dict(explicit, base)
    if config.resume:
        ckpt_path = config.run_dir() / CHECKPOINT_NAME
        if ckpt_path.is_file():
            saved = dict(load_training_checkpoint(ckpt_path)["config"])
            for key in ("max_steps", "resume"):  # a stop is not part of the run
                saved.pop(key, None)
            config = TrainConfig.from_dict(explicit, TrainConfig.from_dict(saved))
    return config, print_only


@contextlib.contextmanager
def _one_line_warnings() -> Iterator[None]:
    """Checkpoint warnings as ``dlnotes train: warning: ...`` lines."""

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        print(f"{PROG}: warning: {message}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("always", UnverifiedCheckpointWarning)
        warnings.showwarning = show
        yield


def summary(result: TrainResult, config: TrainConfig) -> str:
    """The last line of a run: how far it got, how well, where the files are."""
    where = f"run folder {result.run_dir}"
    if result.stopped_early:
        return (
            f"{PROG}: stopped at max_steps after {result.step} steps; continue "
            f"with --resume --out-dir {result.run_dir}"
        )
    row = result.history[-1] if result.history else {}
    split = "test" if row.get("test_acc") is not None else "train"
    score = ""
    if row:
        acc, loss = row[f"{split}_acc"], row[f"{split}_loss"]
        score = f", {split} acc {100 * acc:.2f}% (loss {loss:.4f})"
    done = "done" if result.learned is not False else "did not learn"
    epochs = len(result.history)
    line = f"{PROG}: {done}: {epochs} epoch{'s' * (epochs != 1)}, {result.step} "
    line += f"steps, {result.images_per_s:.0f} img/s{score}; {where}"
    if result.learned is False:
        line += (
            f"; the accuracy is at chance level: try another --lr (this run: "
            f"{config.lr:g}) or more --epochs"
        )
    return line


def run(args: argparse.Namespace) -> int:
    """The ``train`` subcommand of ``dlnotes`` on its parsed arguments (see
    :func:`dlnotes.train.config.add_arguments`); returns the exit code."""
    config: TrainConfig | None = None
    try:
        with _one_line_warnings():
            config, print_only = config_from_args(args)
            if print_only:
                print(yaml.safe_dump(config.to_dict(), sort_keys=False), end="")
                return 0
            result = train(config)
    except (ValueError, DatasetNotFoundError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except TrainingDiverged as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: {_interrupted(config)}", file=sys.stderr)
        return 130
    if int(os.environ.get("RANK", "0")) != 0:
        return 0
    print(summary(result, config), file=sys.stderr)
    return EXIT_AT_CHANCE if result.learned is False else 0


def _interrupted(config: TrainConfig | None) -> str:
    if config is None:
        return "interrupted"
    ckpt = config.run_dir() / CHECKPOINT_NAME
    if not ckpt.is_file():
        return "interrupted before the first checkpoint; nothing to resume"
    return (
        f"interrupted; continue from the last checkpoint with "
        f"--resume --out-dir {config.run_dir()}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m dlnotes.train [flags]`` (the same as ``dlnotes train``)."""
    return run(build_parser().parse_args(list(argv) if argv is not None else None))
