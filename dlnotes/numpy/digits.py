"""scikit-learn's 8x8 handwritten digits: the one loader every example starts from.

The NumPy networks (:mod:`dlnotes.numpy.mlp`), the lab notebooks
(:mod:`dlnotes.labs`) and the training engine (:mod:`dlnotes.train.data`) all
read the digits here, so they share one train/test split: stratified by class
and seeded (:func:`stratified_split`). Each caller then shapes the images its
own way (flattened and standardised per pixel, resized tensors, ...). NumPy only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dlnotes.numpy.types import FloatArray, IntArray

__all__ = ["Digits", "split_digits", "stratified_split"]


def stratified_split(
    labels: IntArray, test_fraction: float, seed: int = 0
) -> tuple[IntArray, IntArray]:
    """Seeded train/test split of ``range(len(labels))``, class by class.

    Each class (in increasing order) is permuted with one generator seeded by
    ``seed``; its first ``round(n * test_fraction)`` indices (at least 1 when the
    class has 2 or more members) go to the test part. Returns sorted
    ``(train_indices, test_indices)``.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    train: list[IntArray] = [np.zeros(0, dtype=np.int64)]
    test: list[IntArray] = [np.zeros(0, dtype=np.int64)]
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = max(1, round(len(idx) * test_fraction)) if len(idx) > 1 else 0
        test.append(idx[:k])
        train.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


@dataclass(frozen=True)
class Digits:
    """The digits of :func:`split_digits`.

    Attributes:
        images: ``(N, 8, 8)`` grey values in ``[0, 1]`` (scikit-learn's 0..16 / 16).
        labels: ``(N,)`` ``int64`` labels ``0 .. len(classes) - 1``.
        classes: the digit of each label (``classes[label]``).
        train, test: sorted indices into ``images`` of the two parts.
    """

    images: FloatArray
    labels: IntArray
    classes: tuple[int, ...]
    train: IntArray
    test: IntArray


def split_digits(
    *,
    classes: Sequence[int] | None = None,
    test_fraction: float = 0.25,
    seed: int = 0,
) -> Digits:
    """The 1,797 digits of ``sklearn.datasets.load_digits``, split in two.

    ``classes`` keeps only those digits, relabelled ``0 .. k-1`` in the order
    given (default: all ten, label = digit). The split is
    :func:`stratified_split` of the labels with ``test_fraction`` and ``seed``.
    """
    from sklearn.datasets import load_digits

    chosen = tuple(range(10)) if classes is None else tuple(int(c) for c in classes)
    if (
        not chosen
        or len(set(chosen)) != len(chosen)
        or not set(chosen) <= set(range(10))
    ):
        raise ValueError(f"classes must be distinct digits 0..9, got {classes!r}")
    raw = load_digits()
    keep = np.flatnonzero(np.isin(raw.target, chosen))
    relabel = np.full(10, -1, dtype=np.int64)
    relabel[list(chosen)] = np.arange(len(chosen))
    labels = relabel[raw.target[keep]]
    images = raw.images[keep].astype(np.float64) / 16.0  # (N, 8, 8) in [0, 1]
    train, test = stratified_split(labels, test_fraction, seed)
    return Digits(images, labels, chosen, train, test)
