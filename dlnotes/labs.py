"""Small, seeded experiments behind the lab notebooks (``docs/labs/*.py``).

The labs are executed when the site is built, on a 2-core CPU, so every
experiment here is sized to run in seconds: scikit-learn's 8x8 handwritten
digits held in memory as tensors, models trained for a few hundred SGD steps,
and gradient norms measured with one backward pass.

* :func:`seed_everything` - one call that makes a lab deterministic on the CPU.
* :func:`digits_split` / :func:`few_shot` / :func:`place_at_random` - digits as
  normalised tensors, an optional subset of the classes, ``k`` labelled
  examples per class, digits pasted at random places of a larger canvas.
* :func:`train_classifier` - a fixed number of mini-batch SGD steps with the
  engine's :class:`~dlnotes.train.config.TrainConfig` and schedule
  (:func:`~dlnotes.train.setup.lr_factor`), recording the training error of
  every step (:class:`History`); models are scored with the engine's
  :func:`~dlnotes.train.loop.evaluate` (error = 1 - accuracy).
* :func:`gradient_norms` - the norm of ``dL/dW`` of every layer, input to output.
* :func:`deep_mlp` - a deep fully connected network whose activation,
  initialisation scale, BatchNorm and shortcuts can be switched independently.
* :func:`markdown_table` - a result table the notebooks display as Markdown.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dlnotes.numpy.digits import split_digits
from dlnotes.numpy.types import FloatArray
from dlnotes.train.checkpoint import seed_rngs
from dlnotes.train.config import TrainConfig
from dlnotes.train.loop import evaluate
from dlnotes.train.setup import lr_factor

__all__ = [
    "DigitsSplit",
    "History",
    "MLPBlock",
    "deep_mlp",
    "digits_split",
    "few_shot",
    "gradient_norms",
    "markdown_table",
    "place_at_random",
    "seed_everything",
    "smooth",
    "train_classifier",
]

ACTIVATIONS = ("relu", "tanh", "sigmoid")


def seed_everything(
    seed: int = 0, *, threads: int = 1, deterministic: bool = True
) -> None:
    """Seed torch and NumPy, fix the thread count, ask for deterministic kernels.

    One intra-op thread is the default on purpose: the lab tensors are small,
    and on a busy 2-core machine two OpenMP threads spin-waiting for each other
    made a training step several times *slower* than one thread.
    """
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    seed_rngs(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(deterministic)


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DigitsSplit:
    """scikit-learn digits as normalised ``float32`` tensors, split in two.

    Attributes:
        x_train, x_test: ``(N, 1, S, S)`` images, standardised with the mean and
            standard deviation of the training images.
        y_train, y_test: ``(N,)`` ``int64`` labels ``0 .. len(classes) - 1``.
        classes: the original digit of each label (``classes[label]``).
        mean, std: the statistics used to standardise.
    """

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    classes: tuple[int, ...]
    mean: float
    std: float

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def background(self) -> float:
        """The value of a blank (0) pixel after standardisation."""
        return -self.mean / self.std


def digits_split(
    image_size: int = 8,
    *,
    classes: Sequence[int] | None = None,
    test_fraction: float = 0.25,
    seed: int = 0,
    mean: float | None = None,
    std: float | None = None,
) -> DigitsSplit:
    """The 1,797 digits of ``sklearn.datasets.load_digits`` as tensors.

    Images (8x8, grey values 0..16) are scaled to ``[0, 1]``, resized to
    ``image_size`` (bilinear; 8 keeps them as they are), restricted to the digits
    in ``classes`` (relabelled ``0 .. k-1`` in that order), split per class into
    train and test with a seeded permutation, and standardised with the training
    mean and standard deviation - or with ``mean``/``std`` when given, e.g. the
    statistics a pretrained model was trained with. Shapes:
    ``(N, 1, image_size, image_size)``.
    """
    if image_size < 8:
        raise ValueError(f"image_size must be >= 8, got {image_size}")
    if (mean is None) != (std is None):
        raise ValueError("mean and std must be given together")
    if std is not None and not std > 0:
        raise ValueError(f"std must be > 0, got {std}")
    digits = split_digits(classes=classes, test_fraction=test_fraction, seed=seed)
    x = torch.from_numpy(digits.images.astype(np.float32))[:, None]  # (N, 1, 8, 8)
    if image_size != 8:
        x = F.interpolate(x, size=(image_size, image_size), mode="bilinear")
    y = torch.from_numpy(digits.labels.astype(np.int64))
    tr, te = torch.from_numpy(digits.train), torch.from_numpy(digits.test)
    if mean is None or std is None:
        mean, std = float(x[tr].mean()), float(x[tr].std())
    x = (x - mean) / std
    return DigitsSplit(x[tr], y[tr], x[te], y[te], digits.classes, mean, std)


def few_shot(
    x: Tensor, y: Tensor, per_class: int, *, seed: int = 0
) -> tuple[Tensor, Tensor]:
    """``per_class`` examples of every label in ``y``, chosen with ``seed``.

    Returns ``(x_few, y_few)`` in the original order; ValueError if a class has
    fewer than ``per_class`` examples.
    """
    if per_class < 1:
        raise ValueError(f"per_class must be >= 1, got {per_class}")
    g = torch.Generator().manual_seed(seed)
    picked = []
    for label in torch.unique(y).tolist():
        idx = torch.nonzero(y == label).flatten()
        if len(idx) < per_class:
            raise ValueError(
                f"per_class={per_class} but class {label} has only {len(idx)} examples"
            )
        picked.append(idx[torch.randperm(len(idx), generator=g)[:per_class]])
    index = torch.sort(torch.cat(picked)).values
    return x[index], y[index]


def place_at_random(
    x: Tensor, canvas_size: int, *, fill: float = 0.0, seed: int = 0
) -> Tensor:
    """Paste each image of ``x`` ``(N, C, H, W)`` at a random position of a
    ``canvas_size`` x ``canvas_size`` canvas filled with ``fill``.

    The top-left corner of image ``i`` is drawn uniformly from
    ``0 .. canvas_size - H`` (rows) and ``0 .. canvas_size - W`` (columns) with a
    generator seeded by ``seed``. Returns ``(N, C, canvas_size, canvas_size)``.
    """
    n, c, h, w = x.shape
    if canvas_size < max(h, w):
        raise ValueError(f"canvas_size must be >= {max(h, w)}, got {canvas_size}")
    g = torch.Generator().manual_seed(seed)
    rows = torch.randint(0, canvas_size - h + 1, (n,), generator=g)
    cols = torch.randint(0, canvas_size - w + 1, (n,), generator=g)
    out = x.new_full((n, c, canvas_size, canvas_size), fill)
    r = rows[:, None] + torch.arange(h)  # (N, H) canvas rows of each image
    q = cols[:, None] + torch.arange(w)  # (N, W) canvas columns
    batch = torch.arange(n)[:, None, None, None]
    chans = torch.arange(c)[None, :, None, None]
    out[batch, chans, r[:, None, :, None], q[:, None, None, :]] = x
    return out


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------


@dataclass
class History:
    """What one training run recorded.

    Attributes:
        name: label of the run (for legends and tables).
        loss, error: training loss and error of every step's mini-batch.
        eval_step, eval_error: steps (1-based) and error on the eval set.
        diverged: the loss became NaN/inf; the run stopped there.
        seconds: wall-clock time of the run.
    """

    name: str = ""
    loss: list[float] = field(default_factory=list)
    error: list[float] = field(default_factory=list)
    eval_step: list[int] = field(default_factory=list)
    eval_error: list[float] = field(default_factory=list)
    diverged: bool = False
    seconds: float = 0.0

    def final_error(self, window: int = 20) -> float:
        """Mean mini-batch training error of the last ``window`` steps (NaN if
        the run diverged)."""
        if self.diverged or not self.error:
            return math.nan
        return float(np.mean(self.error[-window:]))


def _param_groups(model: nn.Module, params: Iterable[Any] | None) -> list[Any]:
    if params is None:
        return [p for p in model.parameters() if p.requires_grad]
    return list(params)


def train_classifier(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    config: TrainConfig,
    *,
    steps: int,
    eval_every: int = 0,
    params: Iterable[Any] | None = None,
    x_eval: Tensor | None = None,
    y_eval: Tensor | None = None,
    name: str = "",
) -> History:
    """Train ``model`` on ``(x, y)`` for ``steps`` SGD steps; record every step.

    The engine's settings: ``config.batch_size``, ``lr``, ``momentum``,
    ``nesterov``, ``weight_decay`` and the schedule (:func:`lr_factor` over
    ``steps`` steps, with ``warmup_steps``). Each step draws ``batch_size``
    random examples with replacement (seeded by ``config.seed``), so runs with
    the same config see the same batches, and a handful of examples is enough.
    ``params`` may be parameter groups (e.g.
    :func:`dlnotes.transfer.param_groups`); each group's learning rate follows
    the schedule. Every ``eval_every`` steps (and at the end) the error on
    ``(x_eval, y_eval)`` is recorded. A NaN/inf loss stops the run
    (``History.diverged``).
    """
    if steps < 1 or eval_every < 0:
        raise ValueError(
            f"steps must be >= 1 and eval_every >= 0; got {steps}, {eval_every}"
        )
    groups = _param_groups(model, params)
    opt = torch.optim.SGD(
        groups,
        lr=config.lr,
        momentum=config.momentum,
        nesterov=config.nesterov,
        weight_decay=config.weight_decay,
    )
    base_lrs = [g["lr"] for g in opt.param_groups]
    batches = torch.Generator().manual_seed(config.seed)
    hist = History(name)
    start = time.perf_counter()
    model.train()
    for step in range(steps):
        for g, base in zip(opt.param_groups, base_lrs, strict=True):
            g["lr"] = base * lr_factor(step, config, steps)
        idx = torch.randint(0, len(x), (config.batch_size,), generator=batches)
        logits = model(x[idx])  # (B, num_classes)
        loss = F.cross_entropy(logits, y[idx])
        if not torch.isfinite(loss):
            hist.diverged = True
            break
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        hist.loss.append(loss.item())
        hist.error.append((logits.argmax(1) != y[idx]).float().mean().item())
        due = (step + 1) % max(eval_every, 1) == 0 or step + 1 == steps
        if eval_every and due and x_eval is not None and y_eval is not None:
            hist.eval_step.append(step + 1)
            hist.eval_error.append(1 - evaluate(model, (x_eval, y_eval)).accuracy)
    hist.seconds = time.perf_counter() - start
    return hist


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table; floats are written with 3 decimals."""

    def cell(v: object) -> str:
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"row {row!r} has {len(row)} cells, header {len(header)}")
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines)


def smooth(values: Sequence[float], window: int = 10) -> FloatArray:
    """Trailing moving average (the first values average what exists so far)."""
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    v = np.asarray(values, dtype=np.float64)
    c = np.concatenate([[0.0], np.cumsum(v)])
    n = np.arange(1, len(v) + 1)
    lo = np.maximum(0, n - window)
    return (c[n] - c[lo]) / (n - lo)


# ---------------------------------------------------------------------------
# Gradients at initialisation
# ---------------------------------------------------------------------------


def gradient_norms(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    layer_types: tuple[type[nn.Module], ...] = (nn.Linear, nn.Conv2d),
) -> dict[str, float]:
    """``||dL/dW||`` (Frobenius norm) of every ``layer_types`` layer, in the
    order the layers are registered (input to output for sequential models).

    ``L`` is the mean cross-entropy of ``model(x)`` against ``y``, computed in
    training mode (BatchNorm uses the batch statistics, as in training). The
    model's gradients are cleared before and after.
    """
    model.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(x), y)
    weights: dict[str, Tensor] = {}
    for name, m in model.named_modules():
        w = getattr(m, "weight", None)
        if isinstance(m, layer_types) and isinstance(w, Tensor):
            weights[name] = w
    if not weights:
        raise ValueError(f"model has no layer of types {layer_types}")
    grads = torch.autograd.grad(loss, list(weights.values()))
    model.zero_grad(set_to_none=True)
    return {n: float(g.norm()) for n, g in zip(weights, grads, strict=True)}


class MLPBlock(nn.Module):
    """``Linear -> [BN] -> activation``, optionally with an identity shortcut:
    ``h + f(h)`` (a residual unit) instead of ``f(h)``."""

    def __init__(
        self, width: int, activation: str, *, batch_norm: bool, residual: bool
    ) -> None:
        super().__init__()
        self.linear = nn.Linear(width, width, bias=not batch_norm)
        self.bn = nn.BatchNorm1d(width) if batch_norm else nn.Identity()
        self.act = {"relu": nn.ReLU(), "tanh": nn.Tanh(), "sigmoid": nn.Sigmoid()}[
            activation
        ]
        self.residual = residual

    def forward(self, h: Tensor) -> Tensor:
        out = self.act(self.bn(self.linear(h)))  # (N, width)
        return h + out if self.residual else out


def deep_mlp(
    depth: int,
    width: int,
    *,
    in_features: int,
    num_classes: int,
    activation: str = "relu",
    gain: float = math.sqrt(2.0),
    batch_norm: bool = False,
    residual: bool = False,
) -> nn.Sequential:
    """``depth`` Linear layers: ``Flatten -> Linear(in, width) -> act``, then
    ``depth - 2`` :class:`MLPBlock` s, then ``Linear(width, num_classes)``.

    Weights are ``N(0, gain^2 / fan_in)``, biases 0: ``gain = sqrt(2)`` is He
    initialisation for ReLU (arXiv:1502.01852), ``gain = 1`` LeCun/Xavier-style
    for a square layer; a gain off the right value multiplies the signal by the
    same factor at every layer, so it shrinks or grows geometrically with depth.
    """
    if depth < 2:
        raise ValueError(f"depth must be >= 2, got {depth}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    if not gain > 0:
        raise ValueError(f"gain must be > 0, got {gain}")
    first = MLPBlock(width, activation, batch_norm=batch_norm, residual=False)
    first.linear = nn.Linear(in_features, width, bias=not batch_norm)
    blocks = [
        MLPBlock(width, activation, batch_norm=batch_norm, residual=residual)
        for _ in range(depth - 2)
    ]
    net = nn.Sequential(nn.Flatten(), first, *blocks, nn.Linear(width, num_classes))
    for m in net.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=gain / math.sqrt(m.in_features))
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return net
