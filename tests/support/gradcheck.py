"""Finite differences for the gradient checks of the NumPy layers (no torch)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def central_difference(
    f: Callable[[], float], arr: np.ndarray, eps: float = 1e-6
) -> np.ndarray:
    """∂f/∂arr by central differences, perturbing ``arr`` in place.

    ``f`` takes no argument: it reads ``arr`` (an input or a parameter the loss
    closes over), so any array inside a layer can be checked. ``arr`` is
    restored entry by entry.
    """
    grad = np.zeros_like(arr)
    for idx in np.ndindex(arr.shape):
        old = arr[idx]
        arr[idx] = old + eps
        plus = f()
        arr[idx] = old - eps
        minus = f()
        arr[idx] = old
        grad[idx] = (plus - minus) / (2 * eps)
    return grad
