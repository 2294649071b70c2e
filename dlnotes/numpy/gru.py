"""GRU: forward and backpropagation through time, in PyTorch's layout.

One step of ``torch.nn.GRU`` (Cho et al. 2014, arXiv:1406.1078; the form PyTorch
documents, which applies the reset gate after the hidden projection)::

    r = σ(x W_ir^T + b_ir + h W_hr^T + b_hr)            reset gate
    z = σ(x W_iz^T + b_iz + h W_hz^T + b_hz)            update gate
    n = tanh(x W_in^T + b_in + r ⊙ (h W_hn^T + b_hn))   candidate state
    h' = (1 − z) ⊙ n + z ⊙ h

The three blocks are stacked in the order r, z, n: ``weight_ih`` is ``(3H, D)``,
``weight_hh`` ``(3H, H)``, biases ``(3H,)``, exactly ``weight_ih_l0`` ... of
``nn.GRU``. Sequences are ``(T, N, D)`` (``batch_first=False``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dlnotes.numpy.lstm import sigmoid
from dlnotes.numpy.rnn import check_recurrent_args
from dlnotes.numpy.types import FloatArray

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "GRUCache",
    "GRUGrads",
    "GRUParams",
    "gru_backward",
    "gru_cell_forward",
    "gru_forward",
    "gru_params_from_torch",
]


# --8<-- [start:gru-cell]
def gru_cell_forward(
    x: FloatArray,
    h_prev: FloatArray,
    weight_ih: FloatArray,
    weight_hh: FloatArray,
    bias_ih: FloatArray,
    bias_hh: FloatArray,
) -> FloatArray:
    """One GRU step, written like the equations. x: (N, D), h_prev: (N, H)."""
    xr, xz, xn = np.split(x @ weight_ih.T + bias_ih, 3, axis=1)  # order r, z, n
    hr, hz, hn = np.split(h_prev @ weight_hh.T + bias_hh, 3, axis=1)
    r = sigmoid(xr + hr)  # reset gate: how much of h_prev the candidate sees
    z = sigmoid(xz + hz)  # update gate: how much of h_prev is kept as is
    n = np.tanh(xn + r * hn)  # candidate state
    return (1 - z) * n + z * h_prev


# --8<-- [end:gru-cell]


@dataclass
class GRUParams:
    """The weights of one GRU layer (one direction), in ``nn.GRU``'s layout."""

    weight_ih: FloatArray  # (3H, D): rows [W_ir; W_iz; W_in]
    weight_hh: FloatArray  # (3H, H)
    bias_ih: FloatArray  # (3H,)
    bias_hh: FloatArray  # (3H,)

    @classmethod
    def init(
        cls, input_size: int, hidden_size: int, rng: np.random.Generator | None = None
    ) -> GRUParams:
        """PyTorch's default init: every entry ~ U(−1/√H, 1/√H)."""
        if input_size < 1 or hidden_size < 1:
            raise ValueError(
                "input_size and hidden_size must be >= 1, got "
                f"{input_size} and {hidden_size}"
            )
        rng = np.random.default_rng() if rng is None else rng
        k, H3 = 1.0 / np.sqrt(hidden_size), 3 * hidden_size
        return cls(
            rng.uniform(-k, k, (H3, input_size)),
            rng.uniform(-k, k, (H3, hidden_size)),
            rng.uniform(-k, k, H3),
            rng.uniform(-k, k, H3),
        )

    def arrays(self) -> list[FloatArray]:
        return [self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh]


@dataclass
class GRUCache:
    """What :func:`gru_backward` needs from :func:`gru_forward`."""

    x: FloatArray  # (T, N, D)
    h: FloatArray  # (T + 1, N, H): h[0] = h0
    r: FloatArray  # (T, N, H) reset gates
    z: FloatArray  # (T, N, H) update gates
    n: FloatArray  # (T, N, H) candidates
    hn: FloatArray  # (T, N, H): h_{t-1} W_hn^T + b_hn (before the reset gate)
    params: GRUParams


@dataclass
class GRUGrads:
    """Gradients with respect to every input of :func:`gru_forward`."""

    x: FloatArray  # (T, N, D)
    h0: FloatArray  # (N, H)
    weight_ih: FloatArray
    weight_hh: FloatArray
    bias_ih: FloatArray
    bias_hh: FloatArray

    def arrays(self) -> list[FloatArray]:
        return [self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh]


# --8<-- [start:gru-forward]
def gru_forward(
    x: FloatArray, h0: FloatArray | None, params: GRUParams
) -> tuple[FloatArray, FloatArray, GRUCache]:
    """Run one GRU layer over ``x`` (T, N, D); ``h0`` (N, H) or None (zeros).

    Returns ``output`` (T, N, H), ``h_n`` (N, H) and the cache for
    :func:`gru_backward`. The input projections of all steps are one GEMM.
    """
    p = params
    T, N, D, H = check_recurrent_args(
        x, p.weight_ih, p.weight_hh, p.bias_ih, p.bias_hh, gates=3
    )
    h = np.zeros((T + 1, N, H))
    if h0 is not None:
        if h0.shape != (N, H):
            raise ValueError(f"h0 must have shape {(N, H)}, got {h0.shape}")
        h[0] = h0
    gx = (x.reshape(T * N, D) @ p.weight_ih.T + p.bias_ih).reshape(T, N, 3 * H)
    r, z, n, hn = (np.empty((T, N, H)) for _ in range(4))
    for t in range(T):
        gh = h[t] @ p.weight_hh.T + p.bias_hh  # (N, 3H)
        r[t] = sigmoid(gx[t, :, :H] + gh[:, :H])
        z[t] = sigmoid(gx[t, :, H : 2 * H] + gh[:, H : 2 * H])
        hn[t] = gh[:, 2 * H :]
        n[t] = np.tanh(gx[t, :, 2 * H :] + r[t] * hn[t])
        h[t + 1] = (1 - z[t]) * n[t] + z[t] * h[t]
    return h[1:], h[-1], GRUCache(x, h, r, z, n, hn, p)


def gru_backward(
    doutput: FloatArray, dh_n: FloatArray | None, cache: GRUCache
) -> GRUGrads:
    """Backpropagation through time for :func:`gru_forward`.

    ``h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}``: the direct path ``dh_{t−1} += dh_t ⊙ z``
    is the GRU's gradient highway (z ≈ 1 copies h and its gradient unchanged).
    """
    c, p = cache, cache.params
    T, N, H = c.n.shape
    if doutput.shape != (T, N, H):
        raise ValueError(f"doutput must have shape {(T, N, H)}, got {doutput.shape}")
    dh = np.zeros((N, H)) if dh_n is None else dh_n.copy()
    d_in = np.empty((T, N, 3 * H))  # ∂L/∂(x W_ih^T + b_ih), blocks r, z, n
    d_hid = np.empty((T, N, 3 * H))  # ∂L/∂(h W_hh^T + b_hh)
    for t in reversed(range(T)):
        dh = dh + doutput[t]
        r, z, n, hn = c.r[t], c.z[t], c.n[t], c.hn[t]
        da_n = dh * (1 - z) * (1 - n * n)  # through n = tanh(a_n)
        da_z = dh * (c.h[t] - n) * z * (1 - z)
        da_r = da_n * hn * r * (1 - r)
        d_in[t] = np.concatenate([da_r, da_z, da_n], axis=1)
        d_hid[t] = np.concatenate([da_r, da_z, da_n * r], axis=1)
        dh = dh * z + d_hid[t] @ p.weight_hh  # direct path + through the gates
    d_in2, d_hid2 = d_in.reshape(T * N, 3 * H), d_hid.reshape(T * N, 3 * H)
    return GRUGrads(
        x=(d_in2 @ p.weight_ih).reshape(c.x.shape),
        h0=dh,
        weight_ih=d_in2.T @ c.x.reshape(T * N, -1),
        weight_hh=d_hid2.T @ c.h[:-1].reshape(T * N, H),
        bias_ih=d_in2.sum(axis=0),
        bias_hh=d_hid2.sum(axis=0),
    )


# --8<-- [end:gru-forward]


def gru_params_from_torch(module: nn.GRU, layer: int = 0) -> GRUParams:
    """Copy layer ``layer`` of a ``torch.nn.GRU`` (unidirectional, with bias)."""
    if module.bidirectional or not module.bias or module.batch_first:
        raise ValueError(
            "only unidirectional nn.GRU with bias=True and batch_first=False "
            "is supported"
        )

    def get(name: str) -> FloatArray:
        return getattr(module, f"{name}_l{layer}").detach().double().numpy().copy()

    return GRUParams(get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh"))
