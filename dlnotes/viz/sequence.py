"""Figures for the RNN/LSTM and complexity pages, computed by ``dlnotes`` code.

* ``lstm-latch-gates``: a hand-wired one-unit LSTM that stores a value when told to
  write and shows it when told to read; its gates, cell state and output over time.
* ``rnn-lstm-gradient-norms``: how strongly the loss at the last step depends on
  each earlier input, ``‖∂L/∂x_t‖``, for vanilla RNNs and LSTMs (BPTT by
  :mod:`dlnotes.numpy.rnn` and :mod:`dlnotes.numpy.lstm`).
* ``cnn-layer-macs``: per-layer MACs and parameters of
  :func:`dlnotes.complexity.example_cnn`, counted by :func:`dlnotes.complexity.profile`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from dlnotes.numpy.lstm import LSTMParams, lstm_backward, lstm_forward
from dlnotes.numpy.rnn import rnn_backward, rnn_forward
from dlnotes.numpy.types import FloatArray
from dlnotes.viz import figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "gradient_norms_through_time",
    "latch_inputs",
    "latch_lstm",
]


# --8<-- [start:latch-lstm]
def latch_lstm(gain: float = 10.0) -> LSTMParams:
    """A one-unit LSTM wired by hand as a memory latch.

    Input ``x_t = (value, write, read)``: the input gate opens and the forget gate
    closes only when ``write = 1`` (the cell takes ``g = tanh(value)``); the output
    gate opens only when ``read = 1``. Otherwise ``f ≈ 1, i ≈ 0``: the cell keeps
    its content unchanged for as long as needed.
    """
    # rows: i, f, g, o (PyTorch's order); columns: value, write, read
    weight_ih = np.array(
        [
            [0.0, gain, 0.0],  # i: open on write
            [0.0, -gain, 0.0],  # f: forget the old content on write
            [1.0, 0.0, 0.0],  # g: the value to store
            [0.0, 0.0, gain],  # o: open on read
        ]
    )
    bias_ih = np.array([-gain / 2, gain / 2, 0.0, -gain / 2])
    return LSTMParams(weight_ih, np.zeros((4, 1)), bias_ih, np.zeros(4))


# --8<-- [end:latch-lstm]


def latch_inputs(
    seq_len: int = 40,
    writes: tuple[int, ...] = (4, 21),
    reads: tuple[int, ...] = (14, 33),
    seed: int = 0,
) -> FloatArray:
    """Inputs ``(T, 1, 3)`` for :func:`latch_lstm`: random values, write/read flags."""
    rng = np.random.default_rng(seed)
    x = np.zeros((seq_len, 1, 3))
    x[:, 0, 0] = rng.uniform(-1.5, 1.5, seq_len)
    x[list(writes), 0, 1] = 1.0
    x[list(reads), 0, 2] = 1.0
    return x


@figure("lstm-latch-gates")
def lstm_latch_gates() -> Figure:
    import matplotlib.pyplot as plt

    x = latch_inputs()
    out, _, cache = lstm_forward(x, None, None, latch_lstm())
    gates = cache.gates[:, 0, :]  # (T, 4): i, f, g, o after activation
    t = np.arange(len(x))
    fig, axes = plt.subplots(3, 1, figsize=(8, 6.2), sharex=True)
    ax = axes[0]
    ax.plot(t, x[:, 0, 0], "k.-", lw=0.8, label="value (input)")
    ax.vlines(
        np.flatnonzero(x[:, 0, 1]), -1.6, 1.6, colors="tab:red", label="write flag"
    )
    ax.vlines(
        np.flatnonzero(x[:, 0, 2]),
        -1.6,
        1.6,
        colors="tab:green",
        linestyles="dashed",
        label="read flag",
    )
    ax.set_ylabel("inputs")
    ax.legend(loc="upper right", fontsize=8, ncol=3)
    ax = axes[1]
    for k, (name, color) in enumerate(
        [
            ("input gate i", "tab:red"),
            ("forget gate f", "tab:blue"),
            ("output gate o", "tab:green"),
        ]
    ):
        col = (0, 1, 3)[k]
        ax.step(t, gates[:, col], where="mid", color=color, label=name)
    ax.set_ylabel("gate value")
    ax.set_ylim(-0.05, 1.05)
    ax.legend(loc="center right", fontsize=8)
    ax = axes[2]
    ax.step(
        t, cache.c[1:, 0, 0], where="mid", color="tab:purple", label="cell state c_t"
    )
    ax.step(t, out[:, 0, 0], where="mid", color="tab:orange", label="output h_t")
    ax.set_ylabel("state")
    ax.set_xlabel("time step t")
    ax.legend(loc="upper right", fontsize=8)
    fig.suptitle("A hand-wired LSTM latch: write opens i and closes f, read opens o")
    fig.tight_layout()
    return fig


# --8<-- [start:gradient-norms]
def gradient_norms_through_time(
    cell: str,
    *,
    seq_len: int = 60,
    batch: int = 16,
    input_size: int = 32,
    hidden_size: int = 64,
    gain: float = 1.0,
    forget_bias: float = 0.0,
    seed: int = 0,
) -> FloatArray:
    """``‖∂L/∂x_t‖`` for t = 0..T−1 where ``L = Σ v ⊙ h_T`` looks at the last step.

    ``cell="rnn"``: tanh RNN whose ``W_hh`` is ``gain`` × a random orthogonal
    matrix (gain < 1 → gradients vanish, gain ≫ 1 → they explode).
    ``cell="lstm"``: PyTorch's default init with ``forget_bias`` added to the
    forget gate's bias (f = σ(...) near 1 keeps the cell-state path open).
    """
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((seq_len, batch, input_size))
    v = rng.standard_normal((batch, hidden_size))  # dL/dh_T
    H = hidden_size
    if cell == "rnn":
        k = 1.0 / np.sqrt(H)
        weight_ih = rng.uniform(-k, k, (H, input_size))
        q, _ = np.linalg.qr(rng.standard_normal((H, H)))
        zeros = np.zeros(H)
        out, _, rcache = rnn_forward(x, None, weight_ih, gain * q, zeros, zeros)
        dx = rnn_backward(np.zeros_like(out), v, rcache).x
    elif cell == "lstm":
        p = LSTMParams.init(input_size, H, rng=rng)
        assert p.bias_ih is not None
        p.bias_ih[H : 2 * H] += forget_bias  # gate order i, f, g, o
        out, _, lcache = lstm_forward(x, None, None, p)
        dx = lstm_backward(np.zeros_like(out), v, None, lcache).x
    else:
        raise ValueError(f"cell must be 'rnn' or 'lstm', got {cell!r}")
    return np.linalg.norm(dx.reshape(seq_len, -1), axis=1)


# --8<-- [end:gradient-norms]


@figure("rnn-lstm-gradient-norms")
def rnn_lstm_gradient_norms() -> Figure:
    import matplotlib.pyplot as plt

    curves = [  # label, cell, gain, forget_bias, color, line style
        ("RNN, W_hh = 0.9 x orthogonal", "rnn", 0.9, 0.0, "tab:blue", "-"),
        ("RNN, W_hh = 3 x orthogonal", "rnn", 3.0, 0.0, "tab:red", "-"),
        ("LSTM, default init (f ~ 0.5)", "lstm", 1.0, 0.0, "tab:gray", "--"),
        ("LSTM, forget-gate bias +3 (f ~ 0.95)", "lstm", 1.0, 3.0, "tab:green", "-"),
    ]
    fig, ax = plt.subplots(figsize=(8, 4.2))
    for label, cell, gain, forget_bias, color, style in curves:
        runs = [
            gradient_norms_through_time(
                cell, gain=gain, forget_bias=forget_bias, seed=seed
            )
            for seed in range(3)
        ]
        norms = np.mean(runs, axis=0)
        steps_back = len(norms) - 1 - np.arange(len(norms))
        ax.semilogy(steps_back, norms, style, color=color, label=label)
    ax.set_xlabel("steps back from the last step (T - 1 - t)")
    ax.set_ylabel("||dL/dx_t||  (L looks at h_T only)")
    ax.set_title("Gradients through time: vanishing, exploding, and the LSTM cell path")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


@figure("cnn-layer-macs")
def cnn_layer_macs() -> Figure:
    import matplotlib.pyplot as plt

    from dlnotes.complexity import example_cnn, profile

    prof = profile(example_cnn(), (1, 3, 32, 32))
    rows = [r for r in prof.rows if r.params > 0]  # conv and fc layers
    names = [r.name for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for ax, values, title, color in (
        (axes[0], [r.macs / 1e6 for r in rows], "MACs (millions)", "tab:blue"),
        (
            axes[1],
            [r.params / 1e3 for r in rows],
            "parameters (thousands)",
            "tab:orange",
        ),
    ):
        bars = ax.bar(names, values, color=color)
        ax.bar_label(bars, fmt="%.1f", fontsize=8)
        ax.set_title(title)
        ax.tick_params(axis="x", labelrotation=0)
    fig.suptitle(
        f"example_cnn on 1x3x32x32: {prof.macs / 1e6:.1f} M MACs, "
        f"{prof.params / 1e6:.2f} M params - convs cost time, fc1 costs memory"
    )
    fig.tight_layout()
    return fig
