"""Xavier/He initialisers against torch.nn.init, and the symmetry experiment."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dlnotes.numpy.init import (
    activation_scale,
    calculate_fan_in_and_fan_out,
    calculate_gain,
    kaiming_normal,
    kaiming_std,
    kaiming_uniform,
    symmetry_experiment,
    xavier_normal,
    xavier_std,
    xavier_uniform,
)

SHAPES = [(64, 32), (128, 64, 3, 3), (16, 3, 7, 7), (32, 16, 5, 1)]


@pytest.mark.parametrize("shape", SHAPES)
def test_fans_match_torch(shape: tuple[int, ...]) -> None:
    ref = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert calculate_fan_in_and_fan_out(shape) == ref


def test_fans_of_a_conv_weight() -> None:
    # (C_out, C_in, KH, KW): fan_in = C_in*KH*KW, fan_out = C_out*KH*KW
    assert calculate_fan_in_and_fan_out((64, 3, 7, 7)) == (3 * 49, 64 * 49)
    with pytest.raises(ValueError, match="shape"):
        calculate_fan_in_and_fan_out((5,))


@pytest.mark.parametrize(
    ("name", "param"),
    [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None),
     ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2), ("selu", None)],
)  # fmt: skip
def test_gain_matches_torch(name: str, param: float | None) -> None:
    assert calculate_gain(name, param) == pytest.approx(
        torch.nn.init.calculate_gain(name, param)
    )


def test_unknown_nonlinearity_raises() -> None:
    with pytest.raises(ValueError, match="nonlinearity"):
        calculate_gain("swish")
    with pytest.raises(ValueError, match="mode"):
        kaiming_std((4, 4), mode="fan_avg")  # type: ignore[arg-type]


def torch_sample(fn, shape, **kw) -> np.ndarray:  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    t = torch.empty(shape, dtype=torch.float64)
    fn(t, **kw)
    return t.numpy()


SHAPE = (256, 128, 3, 3)  # 294,912 samples: sample variance within ~1 %


@pytest.mark.parametrize(
    ("ours", "theirs", "kw", "std"),
    [
        (xavier_uniform, torch.nn.init.xavier_uniform_, {"gain": 1.0},
         math.sqrt(2 / (128 * 9 + 256 * 9))),
        (xavier_normal, torch.nn.init.xavier_normal_, {"gain": 5 / 3},
         5 / 3 * math.sqrt(2 / (128 * 9 + 256 * 9))),
        (kaiming_uniform, torch.nn.init.kaiming_uniform_, {"nonlinearity": "relu"},
         math.sqrt(2 / (128 * 9))),
        (kaiming_normal, torch.nn.init.kaiming_normal_,
         {"nonlinearity": "relu", "mode": "fan_out"}, math.sqrt(2 / (256 * 9))),
        (kaiming_uniform, torch.nn.init.kaiming_uniform_, {"a": math.sqrt(5)},
         math.sqrt(2 / 6) / math.sqrt(128 * 9)),  # nn.Conv2d's default init
    ],
)  # fmt: skip
def test_variance_and_bounds_match_formula_and_torch(ours, theirs, kw, std) -> None:  # type: ignore[no-untyped-def]
    ours_w = ours(SHAPE, rng=0, **kw)
    theirs_w = torch_sample(theirs, SHAPE, **kw)
    assert ours_w.shape == SHAPE
    assert ours_w.std() == pytest.approx(std, rel=0.01)  # the paper's formula
    assert theirs_w.std() == pytest.approx(std, rel=0.01)  # torch's samples
    assert abs(ours_w.mean()) < 0.01 * std
    if ours in (xavier_uniform, kaiming_uniform):
        bound = math.sqrt(3) * std  # U(-a, a) has variance a^2 / 3
        assert np.abs(ours_w).max() <= bound
        assert np.abs(theirs_w).max() <= bound
        assert np.abs(theirs_w).max() > 0.999 * bound  # torch uses the same bound


def test_std_helpers() -> None:
    assert xavier_std((10, 20)) == pytest.approx(math.sqrt(2 / 30))
    assert kaiming_std((10, 20), nonlinearity="relu") == pytest.approx(
        math.sqrt(2 / 20)
    )


def test_he_keeps_the_activation_scale_and_small_init_vanishes() -> None:
    he = activation_scale("he", num_layers=8)
    xavier = activation_scale("xavier", num_layers=8)
    small = activation_scale("small", num_layers=8)
    assert 0.2 < he[-1] < 5.0  # stays O(1)
    assert xavier[-1] < he[-1] / 5  # variance halves at every ReLU layer
    assert small[-1] < 1e-6  # the signal vanishes (x 0.1 per layer)


@pytest.fixture(scope="module")
def runs():  # type: ignore[no-untyped-def]
    return {
        init: symmetry_experiment(init, num_steps=40, num_train=300)
        for init in ("identical", "random")
    }


def test_identical_kernels_stay_identical(runs) -> None:  # type: ignore[no-untyped-def]
    run = runs["identical"]
    assert max(run.kernel_spread) < 1e-12  # symmetry never breaks
    k = run.kernels
    assert np.allclose(k, k[0], atol=1e-12)
    assert run.loss[-1] < run.loss[0]  # they did learn, but all the same thing


def test_random_kernels_diverge_and_learn(runs) -> None:  # type: ignore[no-untyped-def]
    run = runs["random"]
    assert run.kernel_spread[-1] > run.kernel_spread[0] > 0.1
    assert run.loss[-1] < 0.6 * run.loss[0]
    flat = run.kernels.reshape(len(run.kernels), -1)
    dists = [np.linalg.norm(a - b) for i, a in enumerate(flat) for b in flat[:i]]
    assert min(dists) > 0.1  # every pair of kernels differs


def test_bad_init_name_raises() -> None:
    with pytest.raises(ValueError, match="init"):
        symmetry_experiment("zeros")  # type: ignore[arg-type]
