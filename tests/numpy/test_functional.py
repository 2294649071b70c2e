"""Softmax, information measures, activations and the CE loss vs PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlnotes.numpy import functional as fn
from dlnotes.numpy.numerical import gradient_check

RNG = np.random.default_rng(0)


def t(x: np.ndarray) -> torch.Tensor:
    return torch.tensor(x, dtype=torch.float64)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_log_softmax_logsumexp_match_torch(dim: int) -> None:
    x = RNG.normal(scale=5.0, size=(4, 7))
    np.testing.assert_allclose(fn.softmax(x, dim), F.softmax(t(x), dim), atol=1e-12)
    np.testing.assert_allclose(
        fn.log_softmax(x, dim), F.log_softmax(t(x), dim), atol=1e-12
    )
    np.testing.assert_allclose(
        fn.logsumexp(x, dim), torch.logsumexp(t(x), dim), atol=1e-12
    )
    kept = fn.logsumexp(x, dim, keepdim=True)
    assert kept.shape == torch.logsumexp(t(x), dim, keepdim=True).shape


def test_softmax_huge_logits_do_not_overflow() -> None:
    x = np.array([[1000.0, 1000.0, -1000.0], [1e4, 0.0, -1e4]])
    with np.errstate(
        over="raise", invalid="raise", divide="raise"
    ):  # any overflow/invalid would raise here
        p = fn.softmax(x)
        lse = fn.logsumexp(np.array([1000.0, 1000.0]))
        logp = fn.log_softmax(np.array([1000.0, 0.0]))
    np.testing.assert_allclose(p, [[0.5, 0.5, 0.0], [1.0, 0.0, 0.0]])
    assert lse == pytest.approx(1000.0 + np.log(2.0))
    assert logp[1] == pytest.approx(-1000.0)  # log of a probability e^-1000
    assert np.isfinite(logp).all()


def test_logsumexp_of_all_minus_inf_is_minus_inf() -> None:
    assert fn.logsumexp(np.array([-np.inf, -np.inf])) == -np.inf


def test_softmax_is_shift_invariant_and_normalised() -> None:
    x = RNG.normal(size=(3, 5))
    np.testing.assert_allclose(fn.softmax(x), fn.softmax(x + 123.0), atol=1e-14)
    np.testing.assert_allclose(fn.softmax(x).sum(axis=1), 1.0)


def test_entropy_cross_entropy_kl_match_torch_and_identity() -> None:
    p = fn.softmax(RNG.normal(size=(5, 6)))
    q = fn.softmax(RNG.normal(size=(5, 6)))
    h = fn.entropy(p)
    torch_h = torch.distributions.Categorical(probs=t(p)).entropy()
    np.testing.assert_allclose(h, torch_h, atol=1e-12)
    kl = fn.kl_div(p, q)
    torch_kl = F.kl_div(t(np.log(q)), t(p), reduction="none").sum(dim=1)
    np.testing.assert_allclose(kl, torch_kl, atol=1e-12)
    # H(p, q) = H(p) + KL(p || q); soft-label cross_entropy in torch uses logits
    np.testing.assert_allclose(fn.cross_entropy(p, q), h + kl, atol=1e-12)
    torch_ce = F.cross_entropy(t(np.log(q)), t(p), reduction="none")
    np.testing.assert_allclose(fn.cross_entropy(p, q), torch_ce, atol=1e-12)
    assert np.all(kl >= 0)
    np.testing.assert_allclose(fn.kl_div(p, p), 0.0, atol=1e-15)


def test_entropy_known_values() -> None:
    assert fn.entropy(np.full(4, 0.25)) == pytest.approx(np.log(4))  # uniform: max
    assert fn.entropy(np.array([1.0, 0.0, 0.0])) == 0.0  # 0 log 0 = 0
    assert fn.kl_div(np.array([0.5, 0.5]), np.array([1.0, 0.0])) == np.inf


@pytest.mark.parametrize(
    ("name", "torch_fn"),
    [("sigmoid", torch.sigmoid), ("tanh", torch.tanh), ("relu", torch.relu)],
)
def test_activations_forward_backward_match_autograd(name: str, torch_fn) -> None:
    x = RNG.normal(scale=3.0, size=(6, 5))
    x[0, 0] = 0.0  # ReLU at exactly 0: gradient 0 in both
    g = RNG.normal(size=x.shape)
    out = getattr(fn, name)(x)
    xt = t(x).requires_grad_(True)
    yt = torch_fn(xt)
    yt.backward(t(g))
    np.testing.assert_allclose(out, yt.detach(), atol=1e-14)
    backward = getattr(fn, f"{name}_backward")
    grad = backward(g, x) if name == "relu" else backward(g, out)
    np.testing.assert_allclose(grad, xt.grad, atol=1e-14)


def test_sigmoid_is_stable_at_extremes() -> None:
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = fn.sigmoid(np.array([-1000.0, 0.0, 1000.0]))
    np.testing.assert_allclose(s, [0.0, 0.5, 1.0])


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_loss_and_backward_match_torch(reduction: str) -> None:
    logits = RNG.normal(scale=4.0, size=(8, 5))
    target = RNG.integers(0, 5, size=8)
    xt = t(logits).requires_grad_(True)
    loss_t = F.cross_entropy(xt, torch.tensor(target), reduction=reduction)
    loss_t.backward()
    loss = fn.cross_entropy_loss(logits, target, reduction)
    assert loss == pytest.approx(loss_t.item(), abs=1e-12)
    grad = fn.cross_entropy_loss_backward(logits, target, reduction)
    np.testing.assert_allclose(grad, xt.grad, atol=1e-14)


def test_cross_entropy_backward_finite_differences() -> None:
    logits = RNG.normal(size=(4, 3))
    target = np.array([0, 2, 1, 2])
    err = gradient_check(
        lambda z: fn.cross_entropy_loss(z, target),
        logits,
        fn.cross_entropy_loss_backward(logits, target),
    )
    assert err < 1e-7


def test_cross_entropy_with_huge_logits_is_finite() -> None:
    logits = np.array([[1e4, 0.0, -1e4]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss = fn.cross_entropy_loss(logits, np.array([2]))
    assert loss == pytest.approx(2e4)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"input": np.zeros(3), "target": np.array([0])}, "input"),
        ({"input": np.zeros((2, 3)), "target": np.array([0, 3])}, "target"),
        ({"input": np.zeros((2, 3)), "target": np.array([0.0, 1.0])}, "target"),
        ({"input": np.zeros((2, 3)), "target": np.array([0])}, "target"),
        (
            {"input": np.zeros((2, 3)), "target": np.array([0, 1]), "reduction": "x"},
            "reduction",
        ),
    ],
)
def test_cross_entropy_bad_input_names_argument(kwargs: dict, argument: str) -> None:
    with pytest.raises(ValueError, match=argument):
        fn.cross_entropy_loss(**kwargs)


def test_distribution_checks_name_argument() -> None:
    with pytest.raises(ValueError, match="p must be a probability"):
        fn.entropy(np.array([0.5, 0.6]))
    with pytest.raises(ValueError, match="q must be a probability"):
        fn.kl_div(np.array([0.5, 0.5]), np.array([-0.5, 1.5]))
    with pytest.raises(ValueError, match="x must have at least one dimension"):
        fn.softmax(np.float64(1.0))
