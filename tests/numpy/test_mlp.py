"""The MLP: layers vs PyTorch autograd, finite differences, digits accuracy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlnotes.numpy.functional import cross_entropy_loss, cross_entropy_loss_backward
from dlnotes.numpy.mlp import MLP, Linear, load_digits_split, train_digits, train_step
from dlnotes.numpy.numerical import gradient_check
from dlnotes.numpy.optim import SGD


def test_linear_matches_torch_forward_backward() -> None:
    rng = np.random.default_rng(0)
    layer = Linear(5, 3, rng)
    x, g = rng.normal(size=(4, 5)), rng.normal(size=(4, 3))
    ref = torch.nn.Linear(5, 3, dtype=torch.float64)
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(layer.weight))
        ref.bias.copy_(torch.tensor(layer.bias))
    xt = torch.tensor(x, requires_grad=True)
    yt = ref(xt)
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(layer.forward(x), yt.detach(), atol=1e-14)
    np.testing.assert_allclose(layer.backward(g), xt.grad, atol=1e-14)
    np.testing.assert_allclose(layer.grad_weight, ref.weight.grad, atol=1e-14)
    np.testing.assert_allclose(layer.grad_bias, ref.bias.grad, atol=1e-14)
    bound = 1 / np.sqrt(5)  # torch.nn.Linear's default init range
    assert np.abs(layer.weight).max() <= bound and np.abs(layer.bias).max() <= bound


def torch_copy(net: MLP) -> torch.nn.Sequential:
    """The same network in PyTorch (Linear/activation only)."""
    mods: list[torch.nn.Module] = []
    for layer in net:
        if isinstance(layer, Linear):
            lin = torch.nn.Linear(*layer.weight.shape[::-1], dtype=torch.float64)
            with torch.no_grad():
                lin.weight.copy_(torch.tensor(layer.weight))
                lin.bias.copy_(torch.tensor(layer.bias))
            mods.append(lin)
        else:
            name = type(layer).__name__
            mods.append(getattr(torch.nn, name)())
    return torch.nn.Sequential(*mods)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
def test_mlp_loss_and_gradients_match_autograd(activation: str) -> None:
    rng = np.random.default_rng(1)
    net = MLP((6, 7, 5, 4), activation=activation, seed=1)
    ref = torch_copy(net)
    x, y = rng.normal(size=(9, 6)), rng.integers(0, 4, size=9)
    logits = net.forward(x)
    net.backward(cross_entropy_loss_backward(logits, y))
    loss_t = torch.nn.functional.cross_entropy(ref(torch.tensor(x)), torch.tensor(y))
    loss_t.backward()
    assert cross_entropy_loss(logits, y) == pytest.approx(loss_t.item(), abs=1e-12)
    for ours, theirs in zip(net.gradients(), ref.parameters(), strict=True):
        np.testing.assert_allclose(ours, theirs.grad, atol=1e-12)


def test_mlp_gradients_finite_differences_without_torch() -> None:
    rng = np.random.default_rng(2)
    net = MLP((4, 5, 3), activation="tanh", seed=2)
    x, y = rng.normal(size=(6, 4)), rng.integers(0, 3, size=6)
    net.backward(cross_entropy_loss_backward(net.forward(x), y))
    for param, grad in zip(net.parameters(), net.gradients(), strict=True):
        grad = grad.copy()

        def loss(value: np.ndarray, param: np.ndarray = param) -> float:
            saved = param.copy()
            param[...] = value
            out = cross_entropy_loss(net.forward(x), y)
            param[...] = saved
            return out

        assert gradient_check(loss, param.copy(), grad) < 1e-7


def test_train_step_matches_torch_training_loop() -> None:
    rng = np.random.default_rng(3)
    net = MLP((5, 8, 3), seed=3)
    ref = torch_copy(net)
    opt = SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    opt_t = torch.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    for _ in range(5):
        x, y = rng.normal(size=(8, 5)), rng.integers(0, 3, size=8)
        loss = train_step(net, opt, x, y)
        opt_t.zero_grad()
        loss_t = torch.nn.functional.cross_entropy(
            ref(torch.tensor(x)), torch.tensor(y)
        )
        loss_t.backward()
        opt_t.step()
        assert loss == pytest.approx(loss_t.item(), abs=1e-12)
    for ours, theirs in zip(net.parameters(), ref.parameters(), strict=True):
        np.testing.assert_allclose(ours, theirs.detach(), atol=1e-12)


def test_digits_data_is_standardised_on_train_split() -> None:
    data = load_digits_split()
    assert data.X_train.shape == (1347, 64) and data.X_test.shape == (450, 64)
    np.testing.assert_allclose(data.X_train.mean(axis=0), 0.0, atol=1e-12)
    assert set(np.unique(data.y_test)) == set(range(10))


def test_digits_mlp_reaches_95_percent_test_accuracy() -> None:
    _, history = train_digits()
    assert history.test_acc[-1] >= 0.95
    assert history.train_loss[-1] < history.train_loss[0] / 10
    assert history.seconds < 30


def test_bad_input_names_argument() -> None:
    with pytest.raises(ValueError, match="activation"):
        MLP((2, 3), activation="softplus")
    with pytest.raises(ValueError, match="sizes"):
        MLP((2,))
    with pytest.raises(ValueError, match="in_features"):
        Linear(0, 3, np.random.default_rng(0))
    with pytest.raises(ValueError, match="test_size"):
        load_digits_split(test_size=1.5)
