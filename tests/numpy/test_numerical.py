"""Finite differences, gradient checking and conditioning (no torch needed)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from dlnotes.numpy import numerical as nm


def test_forward_difference_is_first_order_and_central_second_order() -> None:
    f, df, x = np.exp, np.exp, 1.0
    hs = np.array([1e-2, 1e-3])
    fwd = nm.finite_difference_error(f, df, x, hs, "forward")
    cen = nm.finite_difference_error(f, df, x, hs, "central")
    # truncation error: forward ~ h/2 f''(x), central ~ h^2/6 f'''(x)
    np.testing.assert_allclose(fwd, hs / 2 * np.e, rtol=0.01)
    np.testing.assert_allclose(cen, hs**2 / 6 * np.e, rtol=0.01)
    assert fwd[0] / fwd[1] == pytest.approx(10, rel=0.01)
    assert cen[0] / cen[1] == pytest.approx(100, rel=0.01)


def test_too_small_a_step_is_worse_than_the_optimal_one() -> None:
    f, df, x = np.sin, np.cos, 0.7
    for method in ("forward", "central"):
        h_opt = nm.optimal_step(method)
        err_opt = nm.finite_difference_error(f, df, x, np.array([h_opt]), method)[0]
        err_tiny = nm.finite_difference_error(f, df, x, np.array([1e-13]), method)[0]
        err_big = nm.finite_difference_error(f, df, x, np.array([1e-1]), method)[0]
        assert err_opt < err_tiny / 10  # rounding error dominates for tiny h
        assert err_opt < err_big / 10  # truncation error dominates for large h
    assert nm.optimal_step("forward") == pytest.approx(2 * np.sqrt(2.2e-16), rel=0.01)
    assert nm.optimal_step("central") == pytest.approx(8.7e-6, rel=0.01)


def test_numerical_gradient_of_known_function() -> None:
    A = np.array([[3.0, 1.0], [1.0, 2.0]])
    x = np.array([[0.5, -1.0]]).T

    def f(z: np.ndarray) -> float:
        return (0.5 * z.T @ A @ z).item() + float(np.sin(z).sum())

    exact = A @ x + np.cos(x)
    assert nm.gradient_check(f, x, exact) < 1e-9
    assert nm.gradient_check(f, x, exact * 1.01) > 1e-3  # a wrong gradient fails


def test_numerical_gradient_does_not_modify_input() -> None:
    x = np.arange(6, dtype=np.float64).reshape(2, 3)
    before = x.copy()
    grad = nm.numerical_gradient(lambda z: float(np.sum(z**2)), x)
    np.testing.assert_array_equal(x, before)
    np.testing.assert_allclose(grad, 2 * x, atol=1e-6)


def test_relative_error_measure() -> None:
    assert nm.relative_error(np.array([1.0]), np.array([1.0])) == 0.0
    assert nm.relative_error(np.array([1.0]), np.array([3.0])) == pytest.approx(0.5)
    assert nm.relative_error(np.zeros(3), np.zeros(3)) == 0.0


def test_condition_number_matches_numpy_and_hilbert_grows() -> None:
    rng = np.random.default_rng(0)
    A = rng.normal(size=(5, 5))
    assert nm.condition_number(A) == pytest.approx(np.linalg.cond(A), rel=1e-10)
    kappas = [nm.condition_number(scipy.linalg.hilbert(n)) for n in (3, 6, 9)]
    assert kappas[0] < kappas[1] < kappas[2]
    assert kappas[2] > 1e10  # Hilbert(9) is notoriously ill-conditioned
    assert nm.condition_number(np.diag([1.0, 0.0])) == np.inf


def test_perturbation_amplification_is_bounded_by_kappa_and_attained() -> None:
    A = np.diag([100.0, 1.0])  # kappa = 100
    kappa = nm.condition_number(A)
    # worst case: b along the large singular direction, db along the small one
    worst = nm.perturbation_amplification(A, np.array([1.0, 0.0]), np.array([0, 1e-6]))
    assert worst == pytest.approx(kappa, rel=1e-6)
    rng = np.random.default_rng(1)
    for _ in range(20):
        b, db = rng.normal(size=2), 1e-6 * rng.normal(size=2)
        assert nm.perturbation_amplification(A, b, db) <= kappa * (1 + 1e-9)


def test_naive_versions_overflow_where_stable_ones_do_not() -> None:
    from dlnotes.numpy.functional import logsumexp, softmax

    x = np.array([1000.0, 1000.0])
    with np.errstate(all="ignore"):
        assert np.isnan(nm.softmax_naive(x)).all()  # inf / inf
        assert nm.logsumexp_naive(x) == np.inf
        assert nm.logsumexp_naive(-x) == -np.inf  # exp underflows to 0
    np.testing.assert_allclose(softmax(x), [0.5, 0.5])
    assert logsumexp(-x) == pytest.approx(-1000 + np.log(2))


def test_bad_arguments_name_themselves() -> None:
    with pytest.raises(ValueError, match="method"):
        nm.finite_difference(np.sin, 0.0, 1e-3, method="backward")
    with pytest.raises(ValueError, match="h must be > 0"):
        nm.finite_difference(np.sin, 0.0, 0.0)
    with pytest.raises(ValueError, match="x must be float64"):
        nm.numerical_gradient(lambda z: 0.0, np.zeros(2, dtype=np.float32))
    with pytest.raises(ValueError, match="analytic_grad"):
        nm.gradient_check(lambda z: 0.0, np.zeros(2), np.zeros(3))
    with pytest.raises(ValueError, match="A must be a 2-D"):
        nm.condition_number(np.zeros(3))
