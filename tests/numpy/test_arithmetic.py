"""Output-size rules against the shapes real PyTorch layers produce."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from dlnotes.numpy.arithmetic import (
    RELATIONSHIPS,
    LayerSpec,
    as_pair,
    conv_output_size,
    conv_transpose_output_size,
    cs231n_output_size,
    effective_kernel_size,
    full_padding,
    pool_output_size,
    receptive_fields,
    same_padding,
    transposed_as_direct,
    uncovered_input,
)
from dlnotes.numpy.conv import conv2d_forward_im2col

SETTINGS = settings(max_examples=60, deadline=None)


def torch_conv_size(i: int, k: int, s: int, p: int, d: int) -> int | None:
    try:
        y = F.conv2d(
            torch.zeros(1, 1, i, 1), torch.zeros(1, 1, k, 1), None, s, (p, 0), d
        )
    except RuntimeError:
        return None
    return y.shape[2]


def torch_pool_size(i: int, k: int, s: int, p: int, d: int, ceil: bool) -> int | None:
    try:
        y = F.max_pool2d(torch.zeros(1, 1, i, 1), (k, 1), (s, 1), (p, 0), (d, 1), ceil)
    except RuntimeError:
        return None
    return y.shape[2]


def torch_transpose_size(i: int, k: int, s: int, p: int, a: int, d: int) -> int | None:
    try:
        y = F.conv_transpose2d(
            torch.zeros(1, 1, i, 1),
            torch.zeros(1, 1, k, 1),
            None,
            s,
            (p, 0),
            (a, 0),
            1,
            d,
        )
    except RuntimeError:
        return None
    return y.shape[2]


def ours(fn, *args):  # type: ignore[no-untyped-def]
    try:
        return fn(*args)
    except ValueError:
        return None


@SETTINGS
@given(
    i=st.integers(1, 40),
    k=st.integers(1, 9),
    s=st.integers(1, 5),
    p=st.integers(0, 5),
    d=st.integers(1, 4),
)
def test_conv_output_size_matches_conv2d(
    i: int, k: int, s: int, p: int, d: int
) -> None:
    # same size when torch accepts the configuration, ValueError when it rejects it
    assert ours(conv_output_size, i, k, s, p, d) == torch_conv_size(i, k, s, p, d)


@SETTINGS
@given(
    i=st.integers(1, 40),
    k=st.integers(1, 7),
    s=st.integers(1, 5),
    p=st.integers(0, 4),
    d=st.integers(1, 3),
    ceil=st.booleans(),
)
def test_pool_output_size_matches_max_pool2d(
    i: int, k: int, s: int, p: int, d: int, ceil: bool
) -> None:
    assert ours(pool_output_size, i, k, s, p, d, ceil) == torch_pool_size(
        i, k, s, p, d, ceil
    )


def test_ceil_mode_drops_a_window_that_starts_in_the_right_padding() -> None:
    # i=5, k=2, s=2, p=1: ceil((5 + 2 - 2) / 2) + 1 = 4, but window 4 would start
    # at 3 * 2 = 6 >= i + p = 6, i.e. entirely in the right padding -> 3.
    assert pool_output_size(5, 2, 2, 1, ceil_mode=True) == 3
    assert torch_pool_size(5, 2, 2, 1, 1, True) == 3
    # i=6, k=3, s=2, p=1: ceil(5 / 2) + 1 = 4 is kept (starts at 6 < 7)
    assert pool_output_size(6, 3, 2, 1, ceil_mode=True) == 4
    assert pool_output_size(6, 3, 2, 1, ceil_mode=False) == 3
    avg = F.avg_pool2d(torch.zeros(1, 1, 6, 6), 3, 2, 1, ceil_mode=True)
    assert avg.shape[-1] == 4


def test_pool_stride_defaults_to_kernel_size() -> None:
    assert pool_output_size(224, 2) == nn_pool_size(224, 2) == 112


def nn_pool_size(i: int, k: int) -> int:
    return torch.nn.MaxPool2d(k)(torch.zeros(1, 1, i, i)).shape[-1]


@SETTINGS
@given(
    i=st.integers(1, 20),
    k=st.integers(1, 7),
    s=st.integers(1, 4),
    p=st.integers(0, 4),
    a=st.integers(0, 3),
    d=st.integers(1, 3),
)
def test_conv_transpose_output_size_matches_conv_transpose2d(
    i: int, k: int, s: int, p: int, a: int, d: int
) -> None:
    assert ours(conv_transpose_output_size, i, k, s, p, a, d) == torch_transpose_size(
        i, k, s, p, a, d
    )


def test_nn_modules_give_the_same_shapes() -> None:
    x = torch.zeros(1, 3, 31, 23)
    conv = torch.nn.Conv2d(3, 4, (5, 3), stride=(2, 3), padding=(2, 1), dilation=(1, 2))
    h, w = conv(x).shape[2:]
    assert (h, w) == (
        conv_output_size(31, 5, 2, 2, 1),
        conv_output_size(23, 3, 3, 1, 2),
    )
    pool = torch.nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)
    assert pool(x).shape[2:] == (
        pool_output_size(31, 3, 2, 1, ceil_mode=True),
        pool_output_size(23, 3, 2, 1, ceil_mode=True),
    )
    up = torch.nn.ConvTranspose2d(3, 2, 4, stride=2, padding=1, output_padding=1)
    assert up(x).shape[2:] == (
        conv_transpose_output_size(31, 4, 2, 1, 1),
        conv_transpose_output_size(23, 4, 2, 1, 1),
    )


def test_cs231n_examples() -> None:
    # seed 004: 7x7 input, 3x3 filter, stride 1, pad 0 -> 5x5
    assert cs231n_output_size(7, 3, 0, 1) == 5
    assert cs231n_output_size(7, 3, 0, 2) == 3
    # stride 3 does not fit: (7 - 3) / 3 + 1 = 7/3, "invalid" for cs231n
    assert cs231n_output_size(7, 3, 0, 3) == Fraction(7, 3)
    assert conv_output_size(7, 3, 3) == torch_conv_size(7, 3, 3, 0, 1) == 2
    assert uncovered_input(7, 3, 3) == 1  # the last row is never seen
    # AlexNet conv1 in cs231n: 227 -> 55 (224 would give 54.25)
    assert cs231n_output_size(227, 11, 0, 4) == 55
    assert cs231n_output_size(224, 11, 0, 4) == Fraction(217, 4)
    # the demo: 5x5 input, F=3, P=1, S=2 -> 3
    assert cs231n_output_size(5, 3, 1, 2) == 3


def test_exact_mode_rejects_non_integer_output() -> None:
    assert conv_output_size(7, 3, 2, exact=True) == 3
    with pytest.raises(ValueError, match=r"stride 3.*7/3"):
        conv_output_size(7, 3, 3, exact=True)


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: conv_output_size(5, 3, stride=0), "stride"),
        (lambda: conv_output_size(5, 3, padding=-1), "padding"),
        (lambda: conv_output_size(5, 3, dilation=0), "dilation"),
        (lambda: conv_output_size(2, 3), "kernel_size"),
        (lambda: conv_output_size(5, 3, dilation=3), "kernel_size"),
        (lambda: conv_output_size(5, 0), "kernel_size"),
        (lambda: pool_output_size(5, 3, padding=2), "padding"),
        (lambda: pool_output_size(2, 3), "kernel_size"),
        (
            lambda: conv_transpose_output_size(3, 3, stride=2, output_padding=2),
            "output_padding",
        ),
        (lambda: conv_transpose_output_size(1, 3, padding=2), "padding"),
        (lambda: same_padding(4), "kernel_size"),
        (lambda: as_pair((1, 2, 3), "stride"), "stride"),
        (lambda: as_pair(1.5, "padding"), "padding"),  # type: ignore[arg-type]
    ],
)
def test_bad_arguments_raise_value_error_naming_them(call, argument: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=argument):
        call()


def test_output_padding_may_reach_stride_when_below_dilation() -> None:
    # torch: output_padding must be smaller than stride OR dilation
    assert conv_transpose_output_size(2, 3, 1, 0, 1, 2) == torch_transpose_size(
        2, 3, 1, 0, 1, 2
    )


def test_same_and_full_padding() -> None:
    for k in (1, 3, 5, 7):
        for d in (1, 2, 3):
            p = same_padding(k, d)
            assert torch_conv_size(17, k, 1, p, d) == 17
    for k in (2, 3, 4):
        assert torch_conv_size(10, k, 1, full_padding(k), 1) == 10 + k - 1
    assert effective_kernel_size(3, 2) == 5


# ----------------------------------------------------------------------------
# Dumoulin & Visin, arXiv:1603.07285: every numbered relationship vs PyTorch
# ----------------------------------------------------------------------------
def test_there_are_fifteen_relationships() -> None:
    assert sorted(RELATIONSHIPS) == list(range(1, 16))


@pytest.mark.parametrize("seed", range(20))
def test_direct_convolution_relationships(seed: int) -> None:
    rng = np.random.default_rng(seed)
    i, k = int(rng.integers(7, 30)), int(rng.integers(1, 7))
    s, p, d = int(rng.integers(2, 5)), int(rng.integers(1, 4)), int(rng.integers(2, 4))
    R = RELATIONSHIPS
    assert R[1](i, k) == torch_conv_size(i, k, 1, 0, 1)
    assert R[2](i, k, p=p) == torch_conv_size(i, k, 1, p, 1)
    k_odd = 2 * (k // 2) + 1
    assert R[3](i, k_odd, p=k_odd // 2) == torch_conv_size(i, k_odd, 1, k_odd // 2, 1)
    assert R[4](i, k, p=k - 1) == torch_conv_size(i, k, 1, k - 1, 1)
    assert R[5](i, k, s) == torch_conv_size(i, k, s, 0, 1)
    assert R[6](i, k, s, p) == torch_conv_size(i, k, s, p, 1)
    assert R[7](i, k, s) == torch_pool_size(i, k, s, 0, 1, False)
    k3 = min(k, 3)
    assert R[15](i, k3, s, p, d=d) == torch_conv_size(i, k3, s, p, d)


@pytest.mark.parametrize("seed", range(20))
def test_transposed_relationships_recover_the_input_size(seed: int) -> None:
    """The transpose of a convolution maps its output size back to its input size."""
    rng = np.random.default_rng(100 + seed)
    k, s = int(rng.integers(2, 6)), int(rng.integers(2, 4))
    p = int(rng.integers(1, k))
    R = RELATIONSHIPS

    def check(number: int, i: int, k: int, s: int, p: int, a: int = 0) -> None:
        i_prime = conv_output_size(i, k, s, p)  # the direct convolution's output
        kw = {"a": a} if number == 14 else {}
        o_prime = R[number](i_prime, k, s, p, **kw)
        assert o_prime == i  # shape recovered
        assert o_prime == torch_transpose_size(i_prime, k, s, p, a, 1)

    i = int(rng.integers(k + 2, 20))
    check(8, i, k, 1, 0)
    check(9, i, k, 1, p)
    k_odd = 2 * (k // 2) + 1
    check(10, i, k_odd, 1, k_odd // 2)
    check(11, i, k, 1, k - 1)
    i12 = k + s * int(rng.integers(1, 5))  # (i - k) multiple of s
    check(12, i12, k, s, 0)
    i13 = k - 2 * p + s * int(rng.integers(2, 6))  # (i + 2p - k) multiple of s
    check(13, i13, k, s, p)
    i14 = int(rng.integers(k + 1, 25))  # any size: a = (i + 2p - k) mod s
    check(14, i14, k, s, p, a=uncovered_input(i14, k, s, p))


@pytest.mark.parametrize(
    ("i", "k", "s", "p", "a", "d"),
    [(2, 3, 1, 0, 0, 1), (3, 3, 2, 1, 1, 1), (2, 3, 2, 0, 0, 1), (4, 4, 3, 1, 2, 1),
     (3, 3, 2, 1, 0, 2), (5, 2, 2, 0, 1, 1)],
)  # fmt: skip
def test_transposed_convolution_is_a_direct_convolution_over_stretched_input(
    i: int, k: int, s: int, p: int, a: int, d: int
) -> None:
    """Relationship 14, numerically: stretch, pad by k_eff - p - 1, flip, convolve."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 2, i, i))
    w = rng.standard_normal((2, 3, k, k))  # (C_in, C_out, k, k) as in ConvTranspose2d
    expected = F.conv_transpose2d(
        torch.tensor(x), torch.tensor(w), None, s, p, a, 1, d
    ).numpy()
    eq = transposed_as_direct(i, k, s, p, a, d)
    stretched = np.zeros(
        (1, 2, eq.stretched_size + eq.extra, eq.stretched_size + eq.extra)
    )
    stretched[:, :, : eq.stretched_size : s, : eq.stretched_size : s] = x  # s-1 zeros
    w_direct = w.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1]  # swap in/out, flip
    got = conv2d_forward_im2col(stretched, w_direct, padding=eq.padding, dilation=d)
    assert got.shape[-1] == eq.output_size == expected.shape[-1]
    np.testing.assert_allclose(got, expected, atol=1e-12)


# ----------------------------------------------------------------------------
# Receptive field and jump against autograd
# ----------------------------------------------------------------------------
def autograd_receptive_field(
    specs: list[LayerSpec], size: int
) -> tuple[int, float, int]:
    """(support, centre, index) of d out[centre unit] / d input along one axis."""
    layers: list[torch.nn.Module] = []
    for spec in specs:
        conv = torch.nn.Conv2d(
            1, 1, (spec.kernel_size, 1), (spec.stride, 1), (spec.padding, 0),
            (spec.dilation, 1), bias=False,
        )  # fmt: skip
        torch.nn.init.constant_(conv.weight, 1.0)
        layers.append(conv)
    net = torch.nn.Sequential(*layers).double()
    x = torch.zeros(1, 1, size, 1, dtype=torch.float64, requires_grad=True)
    y = net(x)
    idx = y.shape[2] // 2
    y[0, 0, idx, 0].backward()
    nz = np.flatnonzero(x.grad[0, 0, :, 0].numpy())
    return nz[-1] - nz[0] + 1, (nz[-1] + nz[0]) / 2, idx


@pytest.mark.parametrize(
    "specs",
    [
        [LayerSpec(3), LayerSpec(3), LayerSpec(3)],
        [LayerSpec(3, 1, 1), LayerSpec(2, 2), LayerSpec(3, 1, 1), LayerSpec(2, 2)],
        [
            LayerSpec(7, 2, 3),
            LayerSpec(3, 2, 1),
            LayerSpec(3, 1, 1),
            LayerSpec(3, 1, 1),
        ],
        [LayerSpec(3, 1, 1, 1), LayerSpec(3, 1, 2, 2), LayerSpec(3, 1, 4, 4)],
        [LayerSpec(5, 3, 0), LayerSpec(3, 2, 1, 2)],
    ],
)
def test_receptive_field_and_jump_match_autograd(specs: list[LayerSpec]) -> None:
    size = 101
    geo = receptive_fields(specs, size)
    last = geo[-1]
    rf, centre, idx = autograd_receptive_field(specs, size)
    assert last.receptive_field == rf
    assert last.start + idx * last.jump == centre
    assert last.jump == int(np.prod([sp.stride for sp in specs]))
    assert last.size == torch_conv_size_stack(specs, size)


def torch_conv_size_stack(specs: list[LayerSpec], size: int) -> int:
    for spec in specs:
        out = torch_conv_size(
            size, spec.kernel_size, spec.stride, spec.padding, spec.dilation
        )
        assert out is not None
        size = out
    return size


def test_two_stacked_3x3_see_like_one_5x5() -> None:
    # cs231n / VGG: three 3x3 layers have the receptive field of one 7x7
    geo = receptive_fields([LayerSpec(3)] * 3, 32)
    assert [g.receptive_field for g in geo] == [1, 3, 5, 7]
