"""Gradient descent on a quadratic and SGD with momentum vs torch.optim.SGD."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlnotes.numpy.optim import (
    SGD,
    Quadratic,
    convergence_rate,
    gradient_descent,
    optimal_lr,
    step_size_regime,
)

Q = Quadratic(np.diag([1.0, 10.0]), np.array([1.0, -2.0]))  # mu = 1, L = 10


def errors(lr: float, steps: int = 200) -> np.ndarray:
    xs = gradient_descent(Q.grad, np.array([3.0, 2.0]), lr, steps)
    return np.linalg.norm(xs - Q.minimizer, axis=1)


def test_quadratic_properties() -> None:
    assert (Q.mu, Q.L) == (1.0, 10.0)
    np.testing.assert_allclose(Q.grad(Q.minimizer), 0.0, atol=1e-15)
    assert Q(Q.minimizer) < Q(Q.minimizer + 0.1)


def test_converges_iff_lr_below_two_over_L() -> None:
    eigenvalues = np.array([1.0, 10.0])
    for lr in (0.01, 0.1, 0.15, 0.199):  # 0 < lr < 2/L = 0.2
        e = errors(lr)
        rate = convergence_rate(lr, eigenvalues)
        assert rate < 1
        assert e[-1] <= rate**200 * e[0] * (1 + 1e-9)  # ||e_k|| <= rate^k ||e_0||
    for lr in (0.21, 0.3):
        assert convergence_rate(lr, eigenvalues) > 1
        assert errors(lr)[-1] > 1e3 * errors(lr)[0]  # diverges


def test_error_decays_at_predicted_rate() -> None:
    for lr in (0.05, 0.1, 0.15, optimal_lr(1.0, 10.0)):
        e = errors(lr, steps=60)
        rate = convergence_rate(lr, np.array([1.0, 10.0]))
        observed = (e[-1] / e[-11]) ** (1 / 10)  # per-step factor, late phase
        assert observed == pytest.approx(rate, rel=1e-6)


def test_optimal_lr_is_the_fastest_constant_step() -> None:
    lr_star = optimal_lr(1.0, 10.0)
    assert lr_star == pytest.approx(2 / 11)
    rate_star = convergence_rate(lr_star, np.array([1.0, 10.0]))
    assert rate_star == pytest.approx((10 - 1) / (10 + 1))  # (kappa-1)/(kappa+1)
    grid = np.linspace(0.001, 0.199, 500)
    rates = [convergence_rate(lr, np.array([1.0, 10.0])) for lr in grid]
    assert min(rates) >= rate_star - 1e-12


def test_oscillation_regime_flips_sign() -> None:
    q1 = Quadratic(np.array([[4.0]]), np.array([0.0]))  # L = 4: 1/L=0.25, 2/L=0.5
    assert step_size_regime(0.2, 4.0) == "monotone"
    assert step_size_regime(0.4, 4.0) == "oscillating"
    assert step_size_regime(0.5, 4.0) == "stalled"
    assert step_size_regime(0.6, 4.0) == "divergent"
    xs = gradient_descent(q1.grad, np.array([1.0]), 0.4, 5)[:, 0]
    assert np.all(np.sign(xs[1:]) != np.sign(xs[:-1]))  # zig-zag
    assert abs(xs[-1]) < abs(xs[0])  # but converges
    xs = gradient_descent(q1.grad, np.array([1.0]), 0.2, 5)[:, 0]
    assert np.all(np.diff(xs) < 0) and np.all(xs > 0)  # monotone


@pytest.mark.parametrize(
    "kwargs",
    [
        {"lr": 0.1},
        {"lr": 0.1, "momentum": 0.9},
        {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.01},
        {"lr": 0.05, "momentum": 0.5, "dampening": 0.3},
        {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-3},
    ],
)
def test_sgd_matches_torch_optim_sgd(kwargs: dict) -> None:
    rng = np.random.default_rng(0)
    p_np = [rng.normal(size=(3, 4)), rng.normal(size=4)]
    p_t = [torch.tensor(p.copy(), requires_grad=True) for p in p_np]
    opt_np, opt_t = SGD(p_np, **kwargs), torch.optim.SGD(p_t, **kwargs)
    targets = [rng.normal(size=p.shape) for p in p_np]
    for _ in range(7):
        # loss = sum (p - target)^4 / 4: gradient depends on p, so paths differ
        grads = [(p - tg) ** 3 for p, tg in zip(p_np, targets, strict=True)]
        opt_np.step(grads)
        opt_t.zero_grad()
        loss = sum(
            ((p - torch.tensor(tg)) ** 4).sum() / 4
            for p, tg in zip(p_t, targets, strict=True)
        )
        loss.backward()
        opt_t.step()
    for a, b in zip(p_np, p_t, strict=True):
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_momentum_speeds_up_ill_conditioned_quadratic() -> None:
    q = Quadratic(np.diag([0.01, 1.0]), np.zeros(2))
    results = {}
    for momentum in (0.0, 0.9):
        x = np.array([1.0, 1.0])
        opt = SGD([x], lr=1.0, momentum=momentum)
        for _ in range(100):
            opt.step([q.grad(x)])
        results[momentum] = np.linalg.norm(x)
    assert results[0.9] < results[0.0] / 10


def test_bad_arguments_name_themselves() -> None:
    with pytest.raises(ValueError, match="lr"):
        SGD([np.zeros(2)], lr=-1.0)
    with pytest.raises(ValueError, match="momentum"):
        SGD([np.zeros(2)], lr=0.1, momentum=-0.1)
    with pytest.raises(ValueError, match="nesterov"):
        SGD([np.zeros(2)], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="grads"):
        SGD([np.zeros(2)], lr=0.1).step([])
    with pytest.raises(ValueError, match="A must be positive definite"):
        Quadratic(np.diag([1.0, -1.0]), np.zeros(2))
    with pytest.raises(ValueError, match="b must have shape"):
        Quadratic(np.eye(2), np.zeros(3))
    with pytest.raises(ValueError, match="lr must be > 0"):
        gradient_descent(Q.grad, np.zeros(2), 0.0, 3)
    with pytest.raises(ValueError, match="mu <= L"):
        optimal_lr(2.0, 1.0)
