"""dlnotes.numpy.digits: the one digits loader and its stratified, seeded split."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from dlnotes.numpy.digits import split_digits, stratified_split


def test_split_digits_is_the_sklearn_data_split_per_class() -> None:
    raw = load_digits()
    d = split_digits(test_fraction=0.25, seed=0)
    assert d.images.shape == (1797, 8, 8) and d.classes == tuple(range(10))
    np.testing.assert_array_equal(d.images * 16, raw.images)
    np.testing.assert_array_equal(d.labels, raw.target)
    assert len(d.train) == 1347 and len(d.test) == 450
    assert np.intersect1d(d.train, d.test).size == 0
    np.testing.assert_array_equal(np.union1d(d.train, d.test), np.arange(1797))
    for c in range(10):  # every class split alike
        n = int((raw.target == c).sum())
        assert int((d.labels[d.test] == c).sum()) == round(n * 0.25)
    again = split_digits(test_fraction=0.25, seed=0)
    other = split_digits(test_fraction=0.25, seed=1)
    np.testing.assert_array_equal(again.test, d.test)
    assert not np.array_equal(other.test, d.test)


def test_a_subset_of_classes_is_relabelled_in_the_order_given() -> None:
    raw = load_digits()
    d = split_digits(classes=(7, 3), test_fraction=0.5, seed=2)
    assert d.classes == (7, 3)
    assert int((d.labels == 0).sum()) == int((raw.target == 7).sum())
    assert int((d.labels == 1).sum()) == int((raw.target == 3).sum())
    sevens = raw.images[raw.target == 7] / 16
    np.testing.assert_array_equal(d.images[d.labels == 0], sevens)


def test_stratified_split_small_classes_and_bad_fractions() -> None:
    labels = np.array([0, 0, 0, 0, 1, 1, 2])
    train, test = stratified_split(labels, 0.25, seed=0)
    assert sorted(labels[test].tolist()) == [0, 1]  # >= 1 of a class of 2 or more
    assert 6 in train  # a class of one stays in training
    for bad in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError, match="test_fraction"):
            stratified_split(labels, bad)
    for classes in ((1, 1), (10,), ()):
        with pytest.raises(ValueError, match="classes"):
            split_digits(classes=classes)
