"""Checkpoint files: one format for training checkpoints and exported models.

A file is what ``torch.save`` writes (a zip archive: pickled plain data plus the
raw bytes of the tensors) followed by an 81-byte trailer that seals it::

    \\nDLNOTES-SHA256:<SHA-256 of every byte before the trailer, 64 hex digits>\\n

:func:`save_file` writes it with :func:`dlnotes.fileio.atomic_write` (a crash
leaves the old file or the new one, never half of one; ordinary file modes).
:func:`load_file` checks the checksum *before* anything is unpickled, so a file
whose bytes changed on disk or on the way (a flipped bit, a bad copy, a
truncated download) is refused with one line, ``PATH is corrupt: checksum
mismatch``, instead of loading changed weights or failing deep inside
``torch.load``. Then it unpickles with ``torch.load(weights_only=True)``: only
tensors and plain containers, so a file built to run code when it is read is
refused too. The checksum guards against accidents, not against someone who
can write the file (they can recompute it); ``weights_only`` guards against that.

``torch.load`` ignores bytes after the zip archive, so a plain
``torch.load(path, weights_only=True)`` still opens these files (unverified).
Files written before the checksum existed (no trailer) are still read, after
the same ``weights_only`` unpickling, with an :class:`UnverifiedCheckpointWarning`.

A training checkpoint also holds every random-number generator's state
(:func:`rng_state`), saved as tensors and numbers so that ``weights_only`` can
read them back.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import random
import typing
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dlnotes.fileio import atomic_write

__all__ = [
    "CHECKPOINT_NAME",
    "MODEL_NAME",
    "RUN_IDENTITY",
    "CheckpointError",
    "UnverifiedCheckpointWarning",
    "check_resumable",
    "load_file",
    "load_training_checkpoint",
    "rng_state",
    "save_file",
    "seed_rngs",
    "set_rng_state",
]

CHECKPOINT_NAME = "checkpoint.pt"
MODEL_NAME = "model.pt"
TRAINING_FORMAT = "dlnotes.train.checkpoint"

_MARK = b"\nDLNOTES-SHA256:"
_TRAILER_LEN = len(_MARK) + 64 + 1


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt, refused, or from another run."""


class UnverifiedCheckpointWarning(UserWarning):
    """A checkpoint without a checksum (written before checksums) was loaded."""


# --8<-- [start:save-file]
def _trailer(payload: bytes) -> bytes:
    return _MARK + hashlib.sha256(payload).hexdigest().encode("ascii") + b"\n"


def save_file(obj: Any, path: str | os.PathLike[str]) -> Path:
    """``torch.save(obj)`` plus the checksum trailer, written atomically to
    ``path`` (parent folders are created). Returns the real path written."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    payload = buf.getvalue()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, payload + _trailer(payload))


# --8<-- [end:save-file]


def _bits_apart(a: bytes, b: bytes) -> int:
    return sum((x ^ y).bit_count() for x, y in zip(a, b, strict=True))


def _verified_payload(path: Path, data: bytes) -> bytes | None:
    """The bytes before the trailer if the checksum matches; None if the file has
    no trailer at all. A trailer that is there but damaged, or a payload whose
    hash differs, raises :class:`CheckpointError` ("is corrupt")."""
    if len(data) < _TRAILER_LEN:
        return None
    tail = data[-_TRAILER_LEN:]
    # A few flipped bits in the marker still mark a (damaged) trailer; the end
    # of a zip archive (an older checkpoint) is nowhere near it.
    if _bits_apart(tail[: len(_MARK)], _MARK) > 8:
        return None
    payload = data[:-_TRAILER_LEN]
    if tail != _trailer(payload):
        raise CheckpointError(f"{path} is corrupt: checksum mismatch")
    return payload


def _reason(exc: BaseException) -> str:
    """The informative line of torch's long weights_only error message."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    for ln in lines:
        if ln.startswith("WeightsUnpickler error:"):
            return ln.removeprefix("WeightsUnpickler error:").strip().split(". ")[0]
    return lines[0] if lines else type(exc).__name__


# --8<-- [start:load-file]
def load_file(path: str | os.PathLike[str]) -> Any:
    """Verify the checksum of the file at ``path``, then unpickle it with
    ``torch.load(weights_only=True)`` onto the CPU.

    Raises :class:`CheckpointError` with one line: no file, ``is corrupt:
    checksum mismatch``, not a readable checkpoint, or refused (a pickle that
    would import a function or build an arbitrary object, the way malicious
    ``.pt`` files run code, is refused before anything runs).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    data = path.read_bytes()
    payload = _verified_payload(path, data)
    source = data if payload is None else payload
    if payload is None and not zipfile.is_zipfile(io.BytesIO(data)):
        if data.startswith(b"PK\x03\x04"):  # the start of a torch file, no end
            raise CheckpointError(f"{path} is corrupt: truncated (no checksum)")
        raise CheckpointError(
            f"{path} is not a readable checkpoint (no checksum, not a torch file)"
        )
    try:
        obj = torch.load(io.BytesIO(source), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"refusing to load {path}: not a plain-data checkpoint ({_reason(exc)})"
        ) from exc
    except (RuntimeError, EOFError, ValueError, KeyError, OSError) as exc:
        raise CheckpointError(
            f"{path} is not a readable checkpoint ({_reason(exc)})"
        ) from exc
    if payload is None:
        warnings.warn(
            f"{path} has no checksum (written before checksums were added); "
            "loaded it unverified",
            UnverifiedCheckpointWarning,
            stacklevel=2,
        )
    return obj


# --8<-- [end:load-file]


def load_training_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A training checkpoint (:func:`load_file`, then its format is checked)."""
    obj = load_file(path)
    if not isinstance(obj, dict) or obj.get("format") != TRAINING_FORMAT:
        raise CheckpointError(f"{path} is not a dlnotes training checkpoint")
    return obj


# ---------------------------------------------------------------------------
# Random-number generators
# ---------------------------------------------------------------------------


def seed_rngs(seed: int) -> None:
    """Seed Python's, NumPy's and torch's generators (torch: every CUDA device)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# --8<-- [start:rng-state]
def rng_state() -> dict[str, Any]:
    """Python, NumPy, torch CPU and CUDA generator states as tensors and plain
    numbers, so that ``torch.load(weights_only=True)`` can read them back."""
    version, mt, gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = typing.cast(
        tuple[str, np.ndarray, int, int, float], np.random.get_state()
    )
    return {
        "python": {"version": version, "state": torch.tensor(mt), "gauss": gauss},
        "numpy": {
            "name": np_name,
            "keys": torch.from_numpy(np_keys.astype(np.int64)),
            "pos": int(np_pos),
            "has_gauss": int(np_has_gauss),
            "gauss": float(np_gauss),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what :func:`rng_state` saved."""
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"].tolist()), py["gauss"]))
    n = state["numpy"]
    keys = n["keys"].numpy().astype(np.uint32)
    np.random.set_state((n["name"], keys, n["pos"], n["has_gauss"], n["gauss"]))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"][: torch.cuda.device_count()])


# --8<-- [end:rng-state]


# ---------------------------------------------------------------------------
# Resuming
# ---------------------------------------------------------------------------

# Fields that define the trajectory of a run: a resumed run must keep them.
RUN_IDENTITY = (
    *("model", "model_kwargs", "dataset", "image_size", "in_channels"),
    *("num_classes", "digits_mode", "synthetic_train", "synthetic_test"),
    *("test_fraction", "augment", "mean", "std", "batch_size", "epochs", "lr"),
    *("momentum", "nesterov", "weight_decay", "schedule", "milestones"),
    *("milestones_unit", "gamma", "warmup_steps", "seed", "amp"),
)


def check_resumable(saved: Mapping[str, Any], now: Mapping[str, Any]) -> None:
    """Refuse to resume a run whose saved config differs from ``now`` (both
    :meth:`TrainConfig.to_dict`) in a field of :data:`RUN_IDENTITY`."""
    changed = [k for k in RUN_IDENTITY if saved.get(k) != now.get(k)]
    if changed:
        details = ", ".join(f"{k}: {saved.get(k)!r} -> {now.get(k)!r}" for k in changed)
        raise CheckpointError(
            f"cannot resume: the checkpoint was trained with other settings ({details})"
        )
