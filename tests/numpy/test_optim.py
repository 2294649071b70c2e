"""Gradient descent on a quadratic; SGD and the adaptive optimisers vs torch.optim."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlnotes.numpy.optim import (
    SGD,
    Adagrad,
    Adam,
    AdamW,
    Quadratic,
    RMSprop,
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


# Adaptive optimisers: each one against its torch.optim namesake, float64.
ADAPTIVE = [
    (Adagrad, torch.optim.Adagrad, {"lr": 0.1}),
    (Adagrad, torch.optim.Adagrad, {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1}),
    (Adagrad, torch.optim.Adagrad, {"lr": 0.05, "initial_accumulator_value": 0.5}),
    (RMSprop, torch.optim.RMSprop, {"lr": 0.01}),
    (RMSprop, torch.optim.RMSprop, {"lr": 0.01, "alpha": 0.9, "weight_decay": 0.01}),
    (RMSprop, torch.optim.RMSprop, {"lr": 0.01, "momentum": 0.9, "centered": True}),
    (Adam, torch.optim.Adam, {"lr": 0.01}),
    (Adam, torch.optim.Adam, {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 0.1}),
    (Adam, torch.optim.Adam, {"lr": 0.01, "amsgrad": True, "eps": 1e-6}),
    (AdamW, torch.optim.AdamW, {"lr": 0.01}),
    (AdamW, torch.optim.AdamW, {"lr": 0.01, "weight_decay": 0.5, "amsgrad": True}),
]


def _loss_and_grads(
    params: list[np.ndarray], D: np.ndarray, u: np.ndarray
) -> list[np.ndarray]:
    """Gradients of sum(D (W - 1)^2)/2 + sum((v - u)^4)/4 + |v|^2/2 at (W, v).

    Convex with curvatures spread over two decades (D), so the paths of two
    optimisers that agree step by step stay together instead of amplifying
    rounding differences.
    """
    W, v = params
    return [D * (W - 1.0), (v - u) ** 3 + v]


def _torch_loss(params: list[torch.Tensor], D: np.ndarray, u: np.ndarray):
    W, v = params
    Dt, ut = torch.tensor(D), torch.tensor(u)
    return (
        (Dt * (W - 1.0) ** 2).sum() / 2 + ((v - ut) ** 4).sum() / 4 + (v**2).sum() / 2
    )


@pytest.mark.parametrize(("ours", "theirs", "kwargs"), ADAPTIVE)
def test_adaptive_optimisers_match_torch_over_many_steps(
    ours: type, theirs: type, kwargs: dict
) -> None:
    rng = np.random.default_rng(1)
    A = np.logspace(-1, 1, 12).reshape(3, 4)  # curvatures of W's entries
    b = rng.normal(size=4)
    p_np = [rng.normal(size=(3, 4)), rng.normal(size=4)]
    p_t = [torch.tensor(p.copy(), requires_grad=True) for p in p_np]
    opt_np, opt_t = ours(p_np, **kwargs), theirs(p_t, **kwargs)
    start = [p.copy() for p in p_np]
    for step in range(300):
        # Minibatch-like noise keeps gradients away from 0, where g / sqrt(v)
        # would turn last-bit rounding differences into sign flips.
        noise = [0.1 * rng.normal(size=p.shape) for p in p_np]
        grads = _loss_and_grads(p_np, A, b)
        opt_np.step([g + n for g, n in zip(grads, noise, strict=True)])
        # torch gets the same gradient function at its own parameters (autograd
        # rounds differently in the last bit); test_gradients_are_those_of_the_loss
        # checks the function against autograd.
        grads_t = _loss_and_grads([p.detach().numpy() for p in p_t], A, b)
        for p, g, n in zip(p_t, grads_t, noise, strict=True):
            p.grad = torch.tensor(g + n)
        opt_t.step()
        if step % 50 == 49:  # the whole path, not only where it ends
            for a, t in zip(p_np, p_t, strict=True):
                np.testing.assert_allclose(
                    a, t.detach().numpy(), rtol=1e-10, atol=1e-12
                )
    moved = sum(np.abs(a - s).max() for a, s in zip(p_np, start, strict=True))
    assert moved > 0.1  # the comparison is not between two parameters at rest


def test_gradients_are_those_of_the_loss() -> None:
    rng = np.random.default_rng(2)
    A, b = np.logspace(-1, 1, 12).reshape(3, 4), rng.normal(size=4)
    params = [rng.normal(size=(3, 4)), rng.normal(size=4)]
    t = [torch.tensor(p, requires_grad=True) for p in params]
    _torch_loss(t, A, b).backward()
    for g, tt in zip(_loss_and_grads(params, A, b), t, strict=True):
        np.testing.assert_allclose(g, tt.grad.numpy(), rtol=1e-12)


def test_adagrad_steps_shrink_and_rmsprop_steps_do_not() -> None:
    # Constant gradient 1: AdaGrad's step is lr / sqrt(t), RMSProp's tends to lr.
    for cls, expected in ((Adagrad, 0.1 / np.sqrt(400)), (RMSprop, 0.1)):
        x = np.zeros(1)
        opt = cls([x], lr=0.1)
        for _ in range(399):
            opt.step([np.ones(1)])
        before = x.copy()
        opt.step([np.ones(1)])
        assert before[0] - x[0] == pytest.approx(expected, rel=2e-2)


def test_adam_first_step_is_lr_times_sign_of_gradient() -> None:
    # bias correction: m_hat = g, v_hat = g^2, so the first step is lr * g/|g|
    x = np.zeros(3)
    Adam([x], lr=0.1, eps=0.0).step([np.array([1e-6, -3.0, 200.0])])
    np.testing.assert_allclose(x, [-0.1, 0.1, -0.1], rtol=1e-12)


def test_adamw_decay_is_decoupled_from_the_gradient_scale() -> None:
    # Zero gradient: Adam's L2 term is divided by sqrt(v), AdamW shrinks p by
    # exactly (1 - lr * wd) per step whatever the gradient history.
    w = np.full(2, 2.0)
    opt = AdamW([w], lr=0.1, weight_decay=0.5)
    for _ in range(10):
        opt.step([np.zeros(2)])
    np.testing.assert_allclose(w, 2.0 * (1 - 0.05) ** 10, rtol=1e-12)


def test_adaptive_bad_arguments_name_themselves() -> None:
    with pytest.raises(ValueError, match="betas\\[1\\]"):
        Adam([np.zeros(2)], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="eps"):
        RMSprop([np.zeros(2)], eps=-1.0)
    with pytest.raises(ValueError, match="lr_decay"):
        Adagrad([np.zeros(2)], lr_decay=-0.1)
    with pytest.raises(ValueError, match="weight_decay"):
        AdamW([np.zeros(2)], weight_decay=-1.0)
    with pytest.raises(ValueError, match="grads\\[0\\] has shape"):
        Adam([np.zeros(2)]).step([np.zeros(3)])
