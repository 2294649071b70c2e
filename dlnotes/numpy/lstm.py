"""LSTM: forward and backpropagation through time, in PyTorch's layout.

One step of ``torch.nn.LSTM`` (Hochreiter & Schmidhuber 1997; the forget gate of
Gers et al. 2000; the form PyTorch documents):

    i = σ(x W_ii^T + b_ii + h W_hi^T + b_hi)      input gate
    f = σ(x W_if^T + b_if + h W_hf^T + b_hf)      forget gate
    g = tanh(x W_ig^T + b_ig + h W_hg^T + b_hg)   candidate cell
    o = σ(x W_io^T + b_io + h W_ho^T + b_ho)      output gate
    c' = f ⊙ c + i ⊙ g,    h' = o ⊙ tanh(c')

The four gates are stacked in the order i, f, g, o: ``weight_ih`` is ``(4H, D)``,
``weight_hh`` ``(4H, H)``, ``bias_ih`` and ``bias_hh`` ``(4H,)``, exactly the
``weight_ih_l0`` ... of ``nn.LSTM``, so weights copy across unchanged. Sequences are
``(T, N, D)`` (``batch_first=False``, PyTorch's default). Greff et al., "LSTM: A
Search Space Odyssey" (arXiv:1503.04069) compare the variants.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dlnotes.numpy.rnn import check_recurrent_args
from dlnotes.numpy.types import FloatArray

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "LSTM",
    "LSTMCache",
    "LSTMGrads",
    "LSTMParams",
    "lstm_backward",
    "lstm_cell_forward",
    "lstm_forward",
    "lstm_forward_fast",
    "params_from_torch",
    "params_to_torch",
    "sigmoid",
]


def sigmoid(x: FloatArray, out: FloatArray | None = None) -> FloatArray:
    """Logistic function ``σ(x) = 1/(1 + e^{−x})``, elementwise; ``out=x`` works.

    For very negative ``x``, ``e^{−x}`` overflows to ``inf`` and ``σ`` is exactly 0
    (the overflow warning is silenced).
    """
    with np.errstate(over="ignore"):
        out = np.negative(x, out=out)
        np.exp(out, out=out)
    out += 1.0
    return np.reciprocal(out, out=out)


# --8<-- [start:lstm-cell]
def lstm_cell_forward(
    x: FloatArray,
    h_prev: FloatArray,
    c_prev: FloatArray,
    weight_ih: FloatArray,
    weight_hh: FloatArray,
    bias_ih: FloatArray,
    bias_hh: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """One LSTM step, written like the equations. x: (N, D), h_prev, c_prev: (N, H).

    Returns ``(h, c)``, both (N, H).
    """
    a = x @ weight_ih.T + bias_ih + h_prev @ weight_hh.T + bias_hh  # (N, 4H)
    a_i, a_f, a_g, a_o = np.split(a, 4, axis=1)  # PyTorch's gate order i, f, g, o
    i, f, g, o = sigmoid(a_i), sigmoid(a_f), np.tanh(a_g), sigmoid(a_o)
    c = f * c_prev + i * g  # the cell state: an additive update
    h = o * np.tanh(c)
    return h, c


# --8<-- [end:lstm-cell]


@dataclass
class LSTMParams:
    """The weights of one LSTM layer (one direction), in ``nn.LSTM``'s layout."""

    weight_ih: FloatArray  # (4H, D): rows [W_ii; W_if; W_ig; W_io]
    weight_hh: FloatArray  # (4H, H)
    bias_ih: FloatArray | None  # (4H,)
    bias_hh: FloatArray | None  # (4H,)

    @property
    def hidden_size(self) -> int:
        return int(self.weight_hh.shape[1])

    @property
    def input_size(self) -> int:
        return int(self.weight_ih.shape[1])

    @classmethod
    def init(
        cls,
        input_size: int,
        hidden_size: int,
        *,
        bias: bool = True,
        rng: np.random.Generator | None = None,
        dtype: type[np.floating] = np.float64,
    ) -> LSTMParams:
        """PyTorch's default init: every entry ~ U(−1/√H, 1/√H)."""
        if input_size < 1 or hidden_size < 1:
            raise ValueError(
                "input_size and hidden_size must be >= 1, got "
                f"{input_size} and {hidden_size}"
            )
        rng = np.random.default_rng() if rng is None else rng
        k = 1.0 / np.sqrt(hidden_size)

        def u(*shape: int) -> FloatArray:
            return rng.uniform(-k, k, size=shape).astype(dtype)

        h4 = 4 * hidden_size
        return cls(
            u(h4, input_size),
            u(h4, hidden_size),
            u(h4) if bias else None,
            u(h4) if bias else None,
        )


@dataclass
class LSTMCache:
    """What :func:`lstm_backward` needs from :func:`lstm_forward`."""

    x: FloatArray  # (T, N, D)
    h: FloatArray  # (T + 1, N, H): h[0] = h0, h[t + 1] = output at step t
    c: FloatArray  # (T + 1, N, H): c[0] = c0
    gates: FloatArray  # (T, N, 4H): activated i, f, g, o of every step
    tanh_c: FloatArray  # (T, N, H): tanh(c[t + 1])
    params: LSTMParams


@dataclass
class LSTMGrads:
    """Gradients with respect to every input of :func:`lstm_forward`."""

    x: FloatArray  # (T, N, D)
    h0: FloatArray  # (N, H)
    c0: FloatArray  # (N, H)
    weight_ih: FloatArray  # (4H, D)
    weight_hh: FloatArray  # (4H, H)
    bias_ih: FloatArray  # (4H,)
    bias_hh: FloatArray  # (4H,)


def _initial_state(
    name: str, state: FloatArray | None, shape: tuple[int, int], out: FloatArray
) -> None:
    if state is None:
        out[...] = 0.0
    elif state.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {state.shape}")
    else:
        out[...] = state


def _split_bias(
    bias: FloatArray | None, hidden: int, dtype: np.dtype
) -> list[FloatArray]:
    """The four (H,) gate biases of a (4H,) bias vector; zeros when it is None."""
    if bias is None:
        return [np.zeros(hidden, dtype=dtype) for _ in range(4)]
    return np.split(bias.astype(dtype, copy=False), 4)


# --8<-- [start:lstm-forward]
def lstm_forward(
    x: FloatArray,
    h0: FloatArray | None,
    c0: FloatArray | None,
    params: LSTMParams,
) -> tuple[FloatArray, tuple[FloatArray, FloatArray], LSTMCache]:
    """Run one LSTM layer over a sequence, one step at a time, like the equations.

    x: (T, N, D); h0, c0: (N, H) or None (zeros). Returns ``output`` (T, N, H),
    ``(h_n, c_n)`` (each (N, H)) and the cache for :func:`lstm_backward`.
    :func:`lstm_forward_fast` computes the same, faster.
    """
    p = params
    seq_len, batch, _, H = check_recurrent_args(
        x, p.weight_ih, p.weight_hh, p.bias_ih, p.bias_hh, gates=4
    )
    dtype = np.result_type(x, p.weight_ih, p.weight_hh)
    W_ii, W_if, W_ig, W_io = np.split(p.weight_ih, 4)  # each (H, D)
    W_hi, W_hf, W_hg, W_ho = np.split(p.weight_hh, 4)  # each (H, H)
    b_ii, b_if, b_ig, b_io = _split_bias(p.bias_ih, H, dtype)  # each (H,)
    b_hi, b_hf, b_hg, b_ho = _split_bias(p.bias_hh, H, dtype)
    h = np.empty((seq_len + 1, batch, H), dtype=dtype)  # h[0] = h0
    c = np.empty((seq_len + 1, batch, H), dtype=dtype)  # c[0] = c0
    _initial_state("h0", h0, (batch, H), h[0])
    _initial_state("c0", c0, (batch, H), c[0])
    gates = np.empty((seq_len, batch, 4 * H), dtype=dtype)  # kept for BPTT
    tanh_c = np.empty((seq_len, batch, H), dtype=dtype)
    for t in range(seq_len):
        x_t, h_prev = x[t], h[t]  # (N, D), (N, H)
        i = sigmoid(x_t @ W_ii.T + b_ii + h_prev @ W_hi.T + b_hi)  # input gate
        f = sigmoid(x_t @ W_if.T + b_if + h_prev @ W_hf.T + b_hf)  # forget gate
        g = np.tanh(x_t @ W_ig.T + b_ig + h_prev @ W_hg.T + b_hg)  # candidate
        o = sigmoid(x_t @ W_io.T + b_io + h_prev @ W_ho.T + b_ho)  # output gate
        c[t + 1] = f * c[t] + i * g  # c_t = f ⊙ c_{t-1} + i ⊙ g
        tanh_c[t] = np.tanh(c[t + 1])
        h[t + 1] = o * tanh_c[t]  # h_t = o ⊙ tanh(c_t)
        gates[t] = np.concatenate([i, f, g, o], axis=1)  # PyTorch's order
    cache = LSTMCache(x, h, c, gates, tanh_c, p)
    return h[1:], (h[-1], c[-1]), cache


# --8<-- [end:lstm-forward]


# --8<-- [start:lstm-forward-fast]
def lstm_forward_fast(
    x: FloatArray,
    h0: FloatArray | None,
    c0: FloatArray | None,
    params: LSTMParams,
) -> tuple[FloatArray, tuple[FloatArray, FloatArray], LSTMCache]:
    """:func:`lstm_forward`, fused for speed; same arguments, same results.

    All T input projections in one GEMM, one GEMM per step for the four gates
    at once, one sigmoid for all gates (``tanh(z) = 2σ(2z) − 1`` on doubled g
    rows), and every elementwise step written into preallocated arrays.
    Works in the dtype of ``x`` and the weights (float32 is about twice as fast).
    ``output`` and the states are views of the cache: copy before editing them.
    """
    p = params
    seq_len, batch, input_size, hidden = check_recurrent_args(
        x, p.weight_ih, p.weight_hh, p.bias_ih, p.bias_hh, gates=4
    )
    dtype = np.result_type(x, p.weight_ih, p.weight_hh)
    H = hidden
    h = np.empty((seq_len + 1, batch, H), dtype=dtype)
    c = np.empty((seq_len + 1, batch, H), dtype=dtype)
    _initial_state("h0", h0, (batch, H), h[0])
    _initial_state("c0", c0, (batch, H), c[0])
    tanh_c = np.empty((seq_len, batch, H), dtype=dtype)
    # tanh(z) = 2σ(2z) − 1: doubling the g rows lets one sigmoid cover all 4 gates
    g_rows = slice(2 * H, 3 * H)
    w_ih, w_hh = p.weight_ih.astype(dtype), p.weight_hh.astype(dtype)  # copies
    w_ih[g_rows] *= 2.0
    w_hh[g_rows] *= 2.0
    # 1) input projections of all T steps in one GEMM: (T·N, D) @ (D, 4H)
    gates = (x.reshape(seq_len * batch, input_size) @ w_ih.T).astype(dtype, copy=False)
    gates = gates.reshape(seq_len, batch, 4 * H)
    for b in (p.bias_ih, p.bias_hh):
        if b is not None:
            gates[..., : 2 * H] += b[: 2 * H]
            gates[..., g_rows] += 2.0 * b[g_rows]
            gates[..., 3 * H :] += b[3 * H :]
    w_hh_t = np.ascontiguousarray(w_hh.T)  # (H, 4H)
    rec = np.empty((batch, 4 * H), dtype=dtype)  # h_{t-1} W_hh^T
    ig = np.empty((batch, H), dtype=dtype)  # i ⊙ g
    for t in range(seq_len):
        a = gates[t]  # (N, 4H): becomes the activated gates in place
        # 2) one GEMM per step for the hidden part, all four gates at once
        np.matmul(h[t], w_hh_t, out=rec)
        a += rec
        sigmoid(a, out=a)  # i, f, o and σ(2z_g)
        i, f, g, o = a[:, :H], a[:, H : 2 * H], a[:, g_rows], a[:, 3 * H :]
        g *= 2.0
        g -= 1.0  # g = 2σ(2z) − 1 = tanh(z)
        np.multiply(f, c[t], out=c[t + 1])  # c_t = f ⊙ c_{t-1} + i ⊙ g
        np.multiply(i, g, out=ig)
        c[t + 1] += ig
        np.tanh(c[t + 1], out=tanh_c[t])
        np.multiply(o, tanh_c[t], out=h[t + 1])  # h_t = o ⊙ tanh(c_t)
    cache = LSTMCache(x, h, c, gates, tanh_c, p)
    return h[1:], (h[-1], c[-1]), cache


# --8<-- [end:lstm-forward-fast]


# --8<-- [start:lstm-backward]
def lstm_backward(
    doutput: FloatArray,
    dh_n: FloatArray | None,
    dc_n: FloatArray | None,
    cache: LSTMCache,
) -> LSTMGrads:
    """Backpropagation through time for :func:`lstm_forward` (or ``_fast``).

    doutput: (T, N, H) = ∂L/∂output; dh_n, dc_n: (N, H) or None. The cell state
    carries its gradient back multiplied only by the forget gate,
    ``dc_{t-1} = dc_t ⊙ f_t``: no weight matrix, no squashing derivative.
    """
    x, h, c, p = cache.x, cache.h, cache.c, cache.params
    gates, tanh_c = cache.gates, cache.tanh_c
    seq_len, batch, H = tanh_c.shape
    if doutput.shape != (seq_len, batch, H):
        raise ValueError(
            f"doutput must have shape {(seq_len, batch, H)}, got {doutput.shape}"
        )
    dh = np.zeros((batch, H), dtype=h.dtype)
    dc = np.zeros((batch, H), dtype=h.dtype)
    for name, given, acc in (("dh_n", dh_n, dh), ("dc_n", dc_n, dc)):
        if given is not None:
            if given.shape != (batch, H):
                raise ValueError(
                    f"{name} must have shape {(batch, H)}, got {given.shape}"
                )
            acc += given
    da = np.empty_like(gates)  # ∂L/∂(pre-activation gates); (T, N, 4H)
    for t in reversed(range(seq_len)):
        a = gates[t]
        i, f, g, o = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
        dh += doutput[t]
        dc += dh * o * (1.0 - tanh_c[t] ** 2)  # through h = o ⊙ tanh(c)
        d = da[t]
        d[:, :H] = dc * g * i * (1.0 - i)  # σ' = σ(1 − σ)
        d[:, H : 2 * H] = dc * c[t] * f * (1.0 - f)
        d[:, 2 * H : 3 * H] = dc * i * (1.0 - g * g)  # tanh' = 1 − tanh²
        d[:, 3 * H :] = dh * tanh_c[t] * o * (1.0 - o)
        dc *= f  # the gradient highway: dc_{t-1} = dc_t ⊙ f_t
        dh = d @ p.weight_hh  # to h_{t-1}: (N, 4H) @ (4H, H)
    da2 = da.reshape(seq_len * batch, 4 * H)
    dbias = da2.sum(axis=0)
    return LSTMGrads(
        x=(da2 @ p.weight_ih).reshape(x.shape),
        h0=dh,
        c0=dc,
        weight_ih=da2.T @ x.reshape(seq_len * batch, -1),
        weight_hh=da2.T @ h[:-1].reshape(seq_len * batch, H),
        bias_ih=dbias,
        bias_hh=dbias.copy(),
    )


# --8<-- [end:lstm-backward]


# --8<-- [start:lstm-torch]
def params_from_torch(module: nn.LSTM, layer: int = 0) -> LSTMParams:
    """Copy layer ``layer`` of a ``torch.nn.LSTM`` into NumPy (float64 kept as is)."""
    _check_torch_lstm(module, layer)

    def get(name: str) -> FloatArray | None:
        value = getattr(module, f"{name}_l{layer}", None)
        return None if value is None else value.detach().cpu().numpy().copy()

    w_ih, w_hh = get("weight_ih"), get("weight_hh")
    assert w_ih is not None and w_hh is not None
    return LSTMParams(w_ih, w_hh, get("bias_ih"), get("bias_hh"))


def params_to_torch(params: LSTMParams, module: nn.LSTM, layer: int = 0) -> None:
    """Copy ``params`` into layer ``layer`` of ``module`` in place (same shapes)."""
    import torch

    _check_torch_lstm(module, layer)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            target = getattr(module, f"{name}_l{layer}", None)
            value = getattr(params, name)
            if (target is None) != (value is None):
                raise ValueError(f"params.{name}: bias presence differs from module")
            if target is None:
                continue
            if tuple(target.shape) != value.shape:
                raise ValueError(
                    f"params.{name} must have shape {tuple(target.shape)}, "
                    f"got {value.shape}"
                )
            target.copy_(torch.from_numpy(np.asarray(value)))


# --8<-- [end:lstm-torch]


def _check_torch_lstm(module: nn.LSTM, layer: int) -> None:
    if module.bidirectional:
        raise ValueError("module.bidirectional must be False (not implemented here)")
    if module.proj_size:
        raise ValueError("module.proj_size must be 0 (projections not implemented)")
    if not 0 <= layer < module.num_layers:
        raise ValueError(f"layer must be in [0, {module.num_layers}), got {layer}")


class LSTM:
    """A stack of LSTM layers with ``torch.nn.LSTM``'s interface (no dropout).

    ``forward(x, (h0, c0))`` takes ``x`` (T, N, D) (or (N, T, D) when
    ``batch_first``) and states (num_layers, N, H), and returns
    ``output, (h_n, c_n)`` like ``nn.LSTM``; ``backward`` returns the gradients of
    the input and the initial states and stores the weights' gradients in
    :attr:`grads`.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        *,
        bias: bool = True,
        batch_first: bool = False,
        rng: np.random.Generator | None = None,
        dtype: type[np.floating] = np.float64,
    ) -> None:
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        rng = np.random.default_rng() if rng is None else rng
        self.layers = [
            LSTMParams.init(
                input_size if k == 0 else hidden_size,
                hidden_size,
                bias=bias,
                rng=rng,
                dtype=dtype,
            )
            for k in range(num_layers)
        ]
        self.batch_first = batch_first
        self.grads: list[LSTMGrads] = []
        self._caches: list[LSTMCache] = []

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    @property
    def hidden_size(self) -> int:
        return self.layers[0].hidden_size

    @classmethod
    def from_torch(cls, module: nn.LSTM) -> LSTM:
        """A NumPy copy of ``module`` (same weights, same outputs)."""
        if module.dropout and module.num_layers > 1:
            raise ValueError("module.dropout must be 0 (dropout is not implemented)")
        net = cls.__new__(cls)
        net.layers = [params_from_torch(module, k) for k in range(module.num_layers)]
        net.batch_first = module.batch_first
        net.grads, net._caches = [], []
        return net

    def copy_to_torch(self, module: nn.LSTM) -> None:
        """Load these weights into ``module`` (same sizes) in place."""
        if module.num_layers != self.num_layers:
            raise ValueError(
                f"module.num_layers must be {self.num_layers}, got {module.num_layers}"
            )
        for k, params in enumerate(self.layers):
            params_to_torch(params, module, k)

    def to_torch(self) -> nn.LSTM:
        """A new float64 ``torch.nn.LSTM`` holding these weights."""
        import torch

        first = self.layers[0]
        module = torch.nn.LSTM(
            first.input_size,
            self.hidden_size,
            self.num_layers,
            bias=first.bias_ih is not None,
            batch_first=self.batch_first,
            dtype=torch.float64,
        )
        self.copy_to_torch(module)
        return module

    def forward(
        self,
        x: FloatArray,
        hx: tuple[FloatArray, FloatArray] | None = None,
    ) -> tuple[FloatArray, tuple[FloatArray, FloatArray]]:
        """x: (T, N, D); hx: (h0, c0), each (num_layers, N, H), or None (zeros)."""
        if x.ndim != 3:
            raise ValueError(f"x must be 3-D (T, N, D), got shape {x.shape}")
        if self.batch_first:
            x = x.transpose(1, 0, 2)
        batch, layers, H = x.shape[1], self.num_layers, self.hidden_size
        if hx is not None:
            for name, state in zip(("h0", "c0"), hx, strict=True):
                if state.shape != (layers, batch, H):
                    raise ValueError(
                        f"hx ({name}) must have shape {(layers, batch, H)}, "
                        f"got {state.shape}"
                    )
        h_n, c_n, self._caches = [], [], []
        out = x
        for k, params in enumerate(self.layers):
            h0 = None if hx is None else hx[0][k]
            c0 = None if hx is None else hx[1][k]
            out, (h, c), cache = lstm_forward_fast(out, h0, c0, params)
            h_n.append(h)
            c_n.append(c)
            self._caches.append(cache)
        if self.batch_first:
            out = out.transpose(1, 0, 2)
        return out, (np.stack(h_n), np.stack(c_n))

    __call__ = forward

    def backward(
        self,
        doutput: FloatArray,
        dh_n: FloatArray | None = None,
        dc_n: FloatArray | None = None,
    ) -> tuple[FloatArray, tuple[FloatArray, FloatArray]]:
        """Gradients of ``x`` and ``(h0, c0)``; weight gradients go to ``grads``."""
        if not self._caches:
            raise ValueError("backward called before forward")
        if self.batch_first:
            doutput = doutput.transpose(1, 0, 2)
        grads: list[LSTMGrads] = []
        dout = doutput
        for k in reversed(range(self.num_layers)):
            g = lstm_backward(
                dout,
                None if dh_n is None else dh_n[k],
                None if dc_n is None else dc_n[k],
                self._caches[k],
            )
            grads.append(g)
            dout = g.x
        self.grads = grads[::-1]
        dx = dout.transpose(1, 0, 2) if self.batch_first else dout
        return dx, (
            np.stack([g.h0 for g in self.grads]),
            np.stack([g.c0 for g in self.grads]),
        )
