"""Attention from scratch: additive, scaled dot-product and multi-head.

* :func:`additive_attention` — Bahdanau, Cho & Bengio (2014, arXiv:1409.0473):
  ``score(q, k) = w^T tanh(W_q q + W_k k)``, a one-hidden-layer network.
* :func:`scaled_dot_product_attention` — Vaswani et al. (2017, arXiv:1706.03762):
  ``softmax(Q K^T / sqrt(d_k)) V``, the same as
  ``torch.nn.functional.scaled_dot_product_attention`` (boolean ``attn_mask`` where
  True means "may attend", ``is_causal``).
* :class:`MultiHeadAttention` — ``h`` heads of scaled dot-product attention on
  learned projections, with the parameter names and layout of
  ``torch.nn.MultiheadAttention`` (``in_proj_weight``, ``in_proj_bias``,
  ``out_proj_weight``, ``out_proj_bias``; ``batch_first=True``).

Every forward returns a cache; the matching ``*_backward`` turns the gradient of
the output into gradients of the inputs and parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlnotes.numpy.types import FloatArray

__all__ = [
    "AdditiveAttentionCache",
    "AttentionCache",
    "MultiHeadAttention",
    "additive_attention",
    "additive_attention_backward",
    "masked_softmax",
    "scaled_dot_product_attention",
    "sdpa_backward",
    "softmax_backward",
]


# --8<-- [start:masked-softmax]
def masked_softmax(scores: FloatArray, mask: FloatArray | None = None) -> FloatArray:
    """Softmax over the last axis; positions where ``mask`` is False get weight 0.

    A row whose mask is all False gets all-zero weights (instead of NaN).
    """
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    peak = np.max(scores, axis=-1, keepdims=True)
    peak = np.where(np.isfinite(peak), peak, 0.0)
    e = np.exp(scores - peak)  # exp(-inf) = 0 for the masked positions
    total = e.sum(axis=-1, keepdims=True)
    return e / np.where(total > 0, total, 1.0)


def softmax_backward(d_weights: FloatArray, weights: FloatArray) -> FloatArray:
    """Gradient w.r.t. the scores: ``A ⊙ (dA - sum(dA ⊙ A))`` row by row."""
    return weights * (d_weights - np.sum(d_weights * weights, axis=-1, keepdims=True))


# --8<-- [end:masked-softmax]


@dataclass
class AttentionCache:
    q: FloatArray
    k: FloatArray
    v: FloatArray
    weights: FloatArray  # (..., L, S), rows sum to 1 (or 0 if fully masked)
    scale: float


# --8<-- [start:scaled-dot-product]
def scaled_dot_product_attention(
    q: FloatArray,
    k: FloatArray,
    v: FloatArray,
    attn_mask: FloatArray | None = None,
    is_causal: bool = False,
    scale: float | None = None,
) -> tuple[FloatArray, AttentionCache]:
    """``softmax(q k^T / sqrt(d_k)) v`` over the last two axes.

    q: (..., L, d_k), k: (..., S, d_k), v: (..., S, d_v) -> (..., L, d_v).
    ``attn_mask`` (boolean, broadcastable to (..., L, S)): True = may attend.
    ``is_causal``: query i sees keys 0..i only (the decoder's mask).
    """
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"need q (..., L, d), k (..., S, d), v (..., S, d_v); "
            f"got {q.shape}, {k.shape}, {v.shape}"
        )
    if is_causal and attn_mask is not None:
        raise ValueError("give attn_mask or is_causal, not both")
    L, S = q.shape[-2], k.shape[-2]
    if is_causal:
        attn_mask = np.tril(np.ones((L, S), dtype=bool))
    scale = 1.0 / np.sqrt(q.shape[-1]) if scale is None else scale
    scores = (q @ np.swapaxes(k, -1, -2)) * scale  # (..., L, S)
    weights = masked_softmax(scores, attn_mask)
    return weights @ v, AttentionCache(q, k, v, weights, scale)


def sdpa_backward(
    d_out: FloatArray, cache: AttentionCache
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Gradients ``(dq, dk, dv)`` of :func:`scaled_dot_product_attention`."""
    A = cache.weights
    dv = np.swapaxes(A, -1, -2) @ d_out  # (..., S, d_v)
    d_scores = softmax_backward(d_out @ np.swapaxes(cache.v, -1, -2), A) * cache.scale
    dq = d_scores @ cache.k  # (..., L, d_k)
    dk = np.swapaxes(d_scores, -1, -2) @ cache.q  # (..., S, d_k)
    return dq, dk, dv


# --8<-- [end:scaled-dot-product]


@dataclass
class AdditiveAttentionCache:
    query: FloatArray
    keys: FloatArray
    values: FloatArray
    hidden: FloatArray  # tanh(W_q q + W_k k), (N, L, S, H)
    weights: FloatArray  # (N, L, S)
    w_q: FloatArray
    w_k: FloatArray
    w_v: FloatArray


# --8<-- [start:additive]
def additive_attention(
    query: FloatArray,
    keys: FloatArray,
    values: FloatArray,
    w_q: FloatArray,
    w_k: FloatArray,
    w_v: FloatArray,
    mask: FloatArray | None = None,
) -> tuple[FloatArray, AdditiveAttentionCache]:
    """Bahdanau attention: ``score(q, k_j) = w_v^T tanh(W_q q + W_k k_j)``.

    query: (N, L, D_q), keys: (N, S, D_k), values: (N, S, D_v);
    w_q: (H, D_q), w_k: (H, D_k), w_v: (H,). ``mask`` (N, S) or broadcastable
    to (N, L, S): True = may attend (e.g. not padding). Returns (N, L, D_v).
    """
    if keys.shape[:2] != values.shape[:2] or query.shape[0] != keys.shape[0]:
        raise ValueError(
            f"need query (N, L, D_q), keys (N, S, D_k), values (N, S, D_v); "
            f"got {query.shape}, {keys.shape}, {values.shape}"
        )
    if mask is not None and mask.ndim == 2:
        mask = mask[:, None, :]  # (N, 1, S): the same keys for every query
    hidden = np.tanh(
        (query @ w_q.T)[:, :, None, :] + (keys @ w_k.T)[:, None, :, :]
    )  # (N, L, S, H)
    weights = masked_softmax(hidden @ w_v, mask)  # (N, L, S)
    cache = AdditiveAttentionCache(query, keys, values, hidden, weights, w_q, w_k, w_v)
    return weights @ values, cache


def additive_attention_backward(
    d_out: FloatArray, cache: AdditiveAttentionCache
) -> dict[str, FloatArray]:
    """Gradients of :func:`additive_attention` w.r.t. all of its inputs."""
    c = cache
    d_values = np.swapaxes(c.weights, -1, -2) @ d_out  # (N, S, D_v)
    d_scores = softmax_backward(d_out @ np.swapaxes(c.values, -1, -2), c.weights)
    d_w_v = np.einsum("nls,nlsh->h", d_scores, c.hidden)
    d_pre = d_scores[..., None] * c.w_v * (1 - c.hidden**2)  # (N, L, S, H)
    d_qproj, d_kproj = d_pre.sum(axis=2), d_pre.sum(axis=1)  # (N, L, H), (N, S, H)
    return {
        "query": d_qproj @ c.w_q,
        "keys": d_kproj @ c.w_k,
        "values": d_values,
        "w_q": np.einsum("nlh,nld->hd", d_qproj, c.query),
        "w_k": np.einsum("nsh,nsd->hd", d_kproj, c.keys),
        "w_v": d_w_v,
    }


# --8<-- [end:additive]


# --8<-- [start:multi-head]
class MultiHeadAttention:
    """``torch.nn.MultiheadAttention(embed_dim, num_heads, batch_first=True)``.

    Each head projects the inputs to ``head_dim = embed_dim // num_heads``
    dimensions, runs scaled dot-product attention there, and the heads'
    outputs are concatenated and mixed by ``out_proj``. Parameters use
    PyTorch's layout, so ``load_torch`` copies a trained module exactly.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        rng: np.random.Generator | None = None,
    ) -> None:
        if embed_dim % num_heads != 0:
            raise ValueError(
                f"embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})"
            )
        rng = np.random.default_rng() if rng is None else rng
        E = embed_dim
        self.embed_dim, self.num_heads, self.head_dim = E, num_heads, E // num_heads
        limit = np.sqrt(6.0 / (E + 3 * E))  # xavier_uniform_ on (3E, E), as torch
        self.in_proj_weight = rng.uniform(-limit, limit, (3 * E, E))  # rows: q, k, v
        self.in_proj_bias = np.zeros(3 * E)
        self.out_proj_weight = rng.uniform(-1 / np.sqrt(E), 1 / np.sqrt(E), (E, E))
        self.out_proj_bias = np.zeros(E)

    def load_torch(self, module: object) -> MultiHeadAttention:
        """Copy the parameters of a ``torch.nn.MultiheadAttention``."""
        for name in ("in_proj_weight", "in_proj_bias"):
            setattr(self, name, getattr(module, name).detach().double().numpy().copy())
        out = module.out_proj  # type: ignore[attr-defined]
        self.out_proj_weight = out.weight.detach().double().numpy().copy()
        self.out_proj_bias = out.bias.detach().double().numpy().copy()
        return self

    def _split(self, x: FloatArray) -> FloatArray:  # (N, T, E) -> (N, h, T, d)
        N, T, _ = x.shape
        return x.reshape(N, T, self.num_heads, self.head_dim).transpose(0, 2, 1, 3)

    def _merge(self, x: FloatArray) -> FloatArray:  # (N, h, T, d) -> (N, T, E)
        N, _, T, _ = x.shape
        return x.transpose(0, 2, 1, 3).reshape(N, T, self.embed_dim)

    def forward(
        self,
        query: FloatArray,
        key: FloatArray,
        value: FloatArray,
        attn_mask: FloatArray | None = None,
        is_causal: bool = False,
    ) -> tuple[FloatArray, FloatArray]:
        """query (N, L, E), key/value (N, S, E) -> output (N, L, E) and the
        attention weights averaged over heads (N, L, S), as PyTorch returns them.
        ``attn_mask``: boolean (L, S), True = may attend (PyTorch's
        ``nn.MultiheadAttention`` uses the opposite convention: True = masked)."""
        Wq, Wk, Wv = np.split(self.in_proj_weight, 3)
        bq, bk, bv = np.split(self.in_proj_bias, 3)
        q = self._split(query @ Wq.T + bq)  # (N, h, L, d)
        k = self._split(key @ Wk.T + bk)  # (N, h, S, d)
        v = self._split(value @ Wv.T + bv)  # (N, h, S, d)
        heads, attn = scaled_dot_product_attention(q, k, v, attn_mask, is_causal)
        concat = self._merge(heads)  # (N, L, E)
        out = concat @ self.out_proj_weight.T + self.out_proj_bias
        self._cache = (query, key, value, attn, concat)
        self.head_weights = attn.weights  # (N, h, L, S): each head's own weights
        return out, attn.weights.mean(axis=1)

    def backward(self, d_out: FloatArray) -> dict[str, FloatArray]:
        """Gradients of the last :meth:`forward` w.r.t. its inputs and parameters."""
        query, key, value, attn, concat = self._cache
        d_concat = d_out @ self.out_proj_weight  # (N, L, E)
        dq, dk, dv = sdpa_backward(self._split(d_concat), attn)
        dq, dk, dv = self._merge(dq), self._merge(dk), self._merge(dv)
        Wq, Wk, Wv = np.split(self.in_proj_weight, 3)
        return {
            "query": dq @ Wq,
            "key": dk @ Wk,
            "value": dv @ Wv,
            "in_proj_weight": np.concatenate(
                [
                    np.einsum("nte,ntf->ef", dq, query),
                    np.einsum("nte,ntf->ef", dk, key),
                    np.einsum("nte,ntf->ef", dv, value),
                ]
            ),
            "in_proj_bias": np.concatenate(
                [dq.sum(axis=(0, 1)), dk.sum(axis=(0, 1)), dv.sum(axis=(0, 1))]
            ),
            "out_proj_weight": np.einsum("nte,ntf->ef", d_out, concat),
            "out_proj_bias": d_out.sum(axis=(0, 1)),
        }


# --8<-- [end:multi-head]
