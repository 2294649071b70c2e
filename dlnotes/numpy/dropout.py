"""Inverted dropout with train/eval semantics, like ``torch.nn.Dropout``.

Srivastava et al. (2014), "Dropout: A Simple Way to Prevent Neural Networks from
Overfitting", JMLR 15 (first as Hinton et al., arXiv:1207.0580). The paper scales
the weights by ``1 - p`` at test time; PyTorch (and this module) use *inverted*
dropout instead: kept units are scaled by ``1 / (1 - p)`` during training, so the
expected activation is unchanged and evaluation is the identity.
"""

from __future__ import annotations

import numpy as np

from dlnotes.numpy.module import Module
from dlnotes.numpy.types import FloatArray

__all__ = ["Dropout", "dropout", "dropout_backward"]


def _check_p(p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability p must be in [0, 1], got {p}")


# --8<-- [start:dropout]
def dropout(
    x: FloatArray,
    p: float = 0.5,
    training: bool = True,
    rng: np.random.Generator | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p).

    Returns ``(out, mask)`` where ``mask`` holds 0 or ``1/(1-p)`` (the scaled
    mask that backward reuses). ``E[out] = x`` for every element. With
    ``training=False`` it is the identity (mask of ones).
    """
    _check_p(p)
    if not training or p == 0.0:
        return x, np.ones_like(x)
    if p == 1.0:  # everything dropped; avoid 0 * (1 / 0)
        return np.zeros_like(x), np.zeros_like(x)
    rng = np.random.default_rng() if rng is None else rng
    keep = rng.random(x.shape) >= p  # Bernoulli(1 - p)
    mask = keep / (1.0 - p)
    return x * mask, mask


def dropout_backward(grad_output: FloatArray, mask: FloatArray) -> FloatArray:
    """The same units are dropped and scaled on the way back."""
    return grad_output * mask


# --8<-- [end:dropout]


class Dropout(Module):
    """Layer form of :func:`dropout`; ``seed`` makes the masks reproducible."""

    def __init__(self, p: float = 0.5, seed: int | None = None) -> None:
        _check_p(p)
        self.p = p
        self.rng = np.random.default_rng(seed)
        self.mask: FloatArray | None = None

    def forward(self, x: FloatArray) -> FloatArray:
        out, self.mask = dropout(x, self.p, self.training, self.rng)
        return out

    def backward(self, grad_output: FloatArray) -> FloatArray:
        if self.mask is None:
            raise RuntimeError("backward called before forward")
        return dropout_backward(grad_output, self.mask)
