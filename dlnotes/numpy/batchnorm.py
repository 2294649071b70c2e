"""Batch Normalization: forward, backward, train/eval, running statistics.

Ioffe & Szegedy (2015), "Batch Normalization: Accelerating Deep Network Training
by Reducing Internal Covariate Shift", arXiv:1502.03167, Algorithm 1 (training)
and Algorithm 2 (inference).

The running statistics follow ``torch.nn.BatchNorm1d/2d`` exactly:
``running = (1 - momentum) * running + momentum * batch`` with momentum 0.1, the
batch variance normalises with the biased estimate (divide by n) but enters
``running_var`` unbiased (divide by n - 1), eps = 1e-5 inside the square root.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlnotes.numpy.module import Module
from dlnotes.numpy.types import FloatArray

__all__ = [
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNormCache",
    "batch_norm_backward",
    "batch_norm_forward",
]


@dataclass
class BatchNormCache:
    x_hat: FloatArray  # (n, C) normalised input
    inv_std: FloatArray  # (C,) 1 / sqrt(var + eps)
    gamma: FloatArray  # (C,)
    training: bool  # batch statistics (True) or running statistics (False)


# --8<-- [start:batch-norm-forward]
def batch_norm_forward(
    x: FloatArray,
    gamma: FloatArray,
    beta: FloatArray,
    eps: float = 1e-5,
    mean: FloatArray | None = None,
    var: FloatArray | None = None,
) -> tuple[FloatArray, BatchNormCache]:
    """Normalise each column of ``x`` (n, C), then scale and shift.

    Training (``mean``/``var`` None): statistics of this batch, variance biased
    (divide by n) as in Algorithm 1. Evaluation: the given running statistics.
    ``y = gamma * (x - mean) / sqrt(var + eps) + beta``.
    """
    training = mean is None
    if mean is None or var is None:
        mean = x.mean(axis=0)  # (C,)  mu_B
        var = x.var(axis=0)  # (C,)  sigma_B^2, biased: 1/n sum (x - mu)^2
    inv_std = 1.0 / np.sqrt(var + eps)  # eps keeps the denominator away from 0
    x_hat = (x - mean) * inv_std  # (n, C), zero mean and unit variance
    out = gamma * x_hat + beta  # restores any scale/shift the net needs
    return out, BatchNormCache(x_hat, inv_std, gamma, training)


# --8<-- [end:batch-norm-forward]


# --8<-- [start:batch-norm-backward]
def batch_norm_backward(
    grad_output: FloatArray, cache: BatchNormCache
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Gradients ``(grad_input, grad_gamma, grad_beta)`` for ``grad_output`` (n, C).

    In training mean and variance depend on every sample, which gives
    ``dx = inv_std / n * (n dx_hat - sum(dx_hat) - x_hat * sum(dx_hat * x_hat))``.
    In evaluation they are constants and ``dx = dx_hat * inv_std``.
    """
    x_hat, inv_std = cache.x_hat, cache.inv_std
    grad_gamma = np.sum(grad_output * x_hat, axis=0)  # (C,)
    grad_beta = np.sum(grad_output, axis=0)  # (C,)
    dx_hat = grad_output * cache.gamma  # (n, C)
    if not cache.training:
        return dx_hat * inv_std, grad_gamma, grad_beta
    n = x_hat.shape[0]
    grad_input = (inv_std / n) * (
        n * dx_hat - np.sum(dx_hat, axis=0) - x_hat * np.sum(dx_hat * x_hat, axis=0)
    )
    return grad_input, grad_gamma, grad_beta


# --8<-- [end:batch-norm-backward]


class _BatchNorm(Module):
    """Shared code of BatchNorm1d and BatchNorm2d (channels are features)."""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
    ) -> None:
        if num_features < 1:
            raise ValueError(f"num_features must be >= 1, got {num_features}")
        if not eps > 0:
            raise ValueError(f"eps must be > 0, got {eps}")
        if not 0 <= momentum <= 1:
            raise ValueError(f"momentum must be in [0, 1], got {momentum}")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.weight = np.ones(num_features)  # gamma
        self.bias = np.zeros(num_features)  # beta
        self.running_mean = np.zeros(num_features)
        self.running_var = np.ones(num_features)
        self.grad_weight: FloatArray = np.zeros(num_features)
        self.grad_bias: FloatArray = np.zeros(num_features)
        self._cache: BatchNormCache | None = None

    def parameters(self) -> list[FloatArray]:
        return [self.weight, self.bias] if self.affine else []

    def gradients(self) -> list[FloatArray]:
        return [self.grad_weight, self.grad_bias] if self.affine else []

    # Subclasses turn their input into rows (n, C) and back.
    def _to_rows(self, x: FloatArray) -> FloatArray:
        raise NotImplementedError

    def _from_rows(self, rows: FloatArray, shape: tuple[int, ...]) -> FloatArray:
        raise NotImplementedError

    # --8<-- [start:batchnorm-running-stats]
    def forward(self, x: FloatArray) -> FloatArray:
        rows = self._to_rows(x)  # (n, C), n = N (1d) or N*H*W (2d)
        n = rows.shape[0]
        use_batch = self.training or not self.track_running_stats
        if use_batch:
            if n < 2:
                raise ValueError("x needs more than 1 value per channel to train")
            out, self._cache = batch_norm_forward(
                rows, self.weight, self.bias, self.eps
            )
            if self.training and self.track_running_stats:
                m = self.momentum
                unbiased_var = rows.var(axis=0, ddof=1)  # divide by n - 1
                self.running_mean *= 1 - m
                self.running_mean += m * rows.mean(axis=0)
                self.running_var *= 1 - m
                self.running_var += m * unbiased_var
        else:  # evaluation: a fixed affine map of each input
            mean, var = self.running_mean, self.running_var
            out, self._cache = batch_norm_forward(
                rows, self.weight, self.bias, self.eps, mean=mean, var=var
            )
        return self._from_rows(out, x.shape)

    # --8<-- [end:batchnorm-running-stats]

    def backward(self, grad_output: FloatArray) -> FloatArray:
        if self._cache is None:
            raise RuntimeError("backward called before forward")
        grad_in, self.grad_weight, self.grad_bias = batch_norm_backward(
            self._to_rows(grad_output), self._cache
        )
        return self._from_rows(grad_in, grad_output.shape)


class BatchNorm1d(_BatchNorm):
    """BatchNorm over the batch for input (N, C): one mean/variance per feature."""

    def _to_rows(self, x: FloatArray) -> FloatArray:
        if x.ndim != 2 or x.shape[1] != self.num_features:
            raise ValueError(
                f"x must have shape (N, {self.num_features}), got {x.shape}"
            )
        return x

    def _from_rows(self, rows: FloatArray, shape: tuple[int, ...]) -> FloatArray:
        return rows


class BatchNorm2d(_BatchNorm):
    """BatchNorm for images (N, C, H, W): statistics per channel over N, H, W."""

    def _to_rows(self, x: FloatArray) -> FloatArray:
        if x.ndim != 4 or x.shape[1] != self.num_features:
            raise ValueError(
                f"x must have shape (N, {self.num_features}, H, W), got {x.shape}"
            )
        return x.transpose(0, 2, 3, 1).reshape(-1, self.num_features)  # (NHW, C)

    def _from_rows(self, rows: FloatArray, shape: tuple[int, ...]) -> FloatArray:
        N, C, H, W = shape
        return rows.reshape(N, H, W, C).transpose(0, 3, 1, 2)
