"""The perceptron rule: convergence (Novikoff bound), XOR failure, hidden layer."""

from __future__ import annotations

import numpy as np
import pytest

from dlnotes.numpy.perceptron import (
    XOR_X,
    XOR_Y,
    make_separable,
    novikoff_bound,
    perceptron_predict,
    perceptron_train,
    step,
    xor_network,
)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_converges_on_separable_data_within_novikoff_bound(seed: int) -> None:
    X, y, w_true, b_true = make_separable(200, margin=0.1, seed=seed)
    result = perceptron_train(X, y, max_epochs=1000)
    assert result.converged
    assert result.mistakes_per_epoch[-1] == 0
    np.testing.assert_array_equal(perceptron_predict(X, result.weight, result.bias), y)
    # total number of updates is at most (R / gamma)^2 for any separator
    assert sum(result.mistakes_per_epoch) <= novikoff_bound(X, y, w_true, b_true)


def test_update_rule_by_hand() -> None:
    # first sample is misclassified by w = 0, b = 0: w <- y x, b <- y
    X = np.array([[2.0, 1.0], [-1.0, -1.0]])
    y = np.array([1.0, -1.0])
    result = perceptron_train(X, y, lr=0.5)
    np.testing.assert_allclose(result.weight, [1.0, 0.5])
    assert result.bias == 0.5
    assert result.mistakes_per_epoch == [1, 0]


def test_fails_on_xor() -> None:
    result = perceptron_train(XOR_X, XOR_Y, max_epochs=500)
    assert not result.converged
    assert all(m > 0 for m in result.mistakes_per_epoch)  # never a clean epoch
    acc = np.mean(perceptron_predict(XOR_X, result.weight, result.bias) == XOR_Y)
    assert acc <= 0.75  # no line gets all four points right


def test_hidden_layer_computes_xor() -> None:
    np.testing.assert_array_equal(xor_network(XOR_X), [0.0, 1.0, 1.0, 0.0])
    np.testing.assert_array_equal(step(np.array([-1.0, 0.0, 2.0])), [0.0, 0.0, 1.0])


def test_trained_mlp_learns_xor() -> None:
    from dlnotes.numpy.mlp import MLP, train_step
    from dlnotes.numpy.optim import SGD

    net = MLP((2, 8, 2), activation="tanh", seed=0)
    opt = SGD(net.parameters(), lr=0.5, momentum=0.9)
    labels = (XOR_Y > 0).astype(int)
    for _ in range(300):
        train_step(net, opt, XOR_X, labels)
    np.testing.assert_array_equal(net.forward(XOR_X).argmax(axis=1), labels)


def test_bad_input_names_argument() -> None:
    with pytest.raises(ValueError, match="y must hold labels"):
        perceptron_train(XOR_X, np.array([0.0, 1.0, 1.0, 0.0]))
    with pytest.raises(ValueError, match="X must be"):
        perceptron_train(np.zeros(4), XOR_Y)
    with pytest.raises(ValueError, match="lr"):
        perceptron_train(XOR_X, XOR_Y, lr=0.0)
    with pytest.raises(ValueError, match="separate"):
        novikoff_bound(XOR_X, XOR_Y, np.array([1.0, 1.0]), -0.5)
