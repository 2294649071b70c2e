"""The convolution demo of cs231n, computed by :mod:`dlnotes.numpy.conv`.

cs231n's "Convolution Demo" (https://cs231n.github.io/convolutional-networks/):
a 5x5x3 input (W = 5) zero-padded to 7x7x3 (P = 1), two 3x3x3 filters with a
bias each (K = 2, F = 3), stride 2 (S = 2), gives a 3x3x2 output, because
``(W - F + 2P) / S + 1 = (5 - 3 + 2) / 2 + 1 = 3``. The page's animation draws
fresh random integers on every load; here they come from a fixed seed: inputs
in {0, 1, 2}, weights in {-1, 0, 1}, biases 1 and 0, as in the animation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlnotes.numpy.conv import conv2d_forward_naive
from dlnotes.numpy.types import FloatArray


# --8<-- [start:cs231n-demo]
@dataclass(frozen=True)
class Cs231nDemo:
    """Inputs and result of the demo (channels first, no batch axis)."""

    x: FloatArray  # (3, 5, 5) input volume, W = 5, depth 3
    weight: FloatArray  # (2, 3, 3, 3) two filters, each 3x3 through all 3 channels
    bias: FloatArray  # (2,)
    out: FloatArray  # (2, 3, 3) output volume: one 3x3 map per filter
    stride: int = 2
    padding: int = 1

    @property
    def x_padded(self) -> FloatArray:
        """(3, 7, 7): the input with a border of ``padding`` zeros."""
        p = self.padding
        return np.pad(self.x, ((0, 0), (p, p), (p, p)))


def cs231n_demo(seed: int = 231) -> Cs231nDemo:
    """Run the cs231n demo with integer data drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, size=(3, 5, 5)).astype(float)  # pixels in {0, 1, 2}
    weight = rng.integers(-1, 2, size=(2, 3, 3, 3)).astype(float)  # {-1, 0, 1}
    bias = np.array([1.0, 0.0])
    out = conv2d_forward_naive(x[None], weight, bias, stride=2, padding=1)[0]
    return Cs231nDemo(x=x, weight=weight, bias=bias, out=out)


def explain_output(demo: Cs231nDemo, f: int, i: int, j: int) -> str:
    """Spell out ``out[f, i, j]``: one dot product per channel, summed, plus bias."""
    s = demo.stride
    window = demo.x_padded[:, i * s : i * s + 3, j * s : j * s + 3]  # (3, 3, 3)
    terms = [int(np.sum(window[c] * demo.weight[f, c])) for c in range(3)]
    total = sum(terms) + int(demo.bias[f])
    parts = " + ".join(f"({t})" for t in terms)
    return (
        f"out[{f}, {i}, {j}] = {parts} + bias {int(demo.bias[f])} = {total}"
        f"  (sums over channels 0, 1, 2 of rows {i * s}..{i * s + 2}, "
        f"cols {j * s}..{j * s + 2} of the padded input)"
    )


# --8<-- [end:cs231n-demo]
