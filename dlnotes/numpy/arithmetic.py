"""Convolution arithmetic: output sizes, padding rules and receptive fields.

Every size rule of Dumoulin & Visin, "A guide to convolution arithmetic for deep
learning" (arXiv:1603.07285), is here with its relationship number, plus the
extra rules PyTorch applies (pooling ``ceil_mode``, ``output_padding`` and
``dilation`` of transposed convolutions). Sizes are per spatial axis: for 2-D
layers apply them to the height and the width separately (the axes do not
interact).

Notation (the paper's, and cs231n's in brackets): ``i`` input size [W],
``k`` kernel size [F], ``s`` stride [S], ``p`` zero padding on each side [P],
``d`` dilation, ``o`` output size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from numbers import Integral

IntPair = int | tuple[int, int]
"""An int used for both spatial axes, or a ``(height, width)`` pair."""


def as_pair(value: IntPair, name: str, minimum: int = 0) -> tuple[int, int]:
    """Return ``value`` as an ``(h, w)`` pair of ints >= ``minimum``.

    Raises ``ValueError`` naming the argument ``name`` when a value is not an
    integer or is below ``minimum`` (e.g. ``stride`` 0 or negative ``padding``).
    """
    if isinstance(value, Integral):
        pair: tuple[object, ...] = (value, value)
    elif isinstance(value, tuple | list):
        pair = tuple(value)
    else:
        pair = ()
    if len(pair) != 2 or not all(_is_int(v) for v in pair):
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    h, w = int(pair[0]), int(pair[1])  # type: ignore[call-overload]
    if h < minimum or w < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return h, w


def _is_int(value: object) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def _check(name: str, value: int, minimum: int) -> None:
    if not _is_int(value):
        raise ValueError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")


# --8<-- [start:effective-kernel-size]
def effective_kernel_size(kernel_size: int, dilation: int = 1) -> int:
    """Size of a dilated kernel: ``k + (k - 1)(d - 1) = d(k - 1) + 1``.

    Dumoulin & Visin (arXiv:1603.07285), section 5.1: dilation inserts ``d - 1``
    holes between kernel elements, so a 3x3 kernel with ``d = 2`` spans 5x5.
    """
    _check("kernel_size", kernel_size, 1)
    _check("dilation", dilation, 1)
    return dilation * (kernel_size - 1) + 1


# --8<-- [end:effective-kernel-size]


# --8<-- [start:conv-output-size]
def conv_output_size(
    input_size: int,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    *,
    exact: bool = False,
) -> int:
    """Output size of a convolution along one axis.

    Relationship 15 of Dumoulin & Visin (arXiv:1603.07285), which contains
    relationships 1-6 as special cases::

        o = floor((i + 2p - k - (k - 1)(d - 1)) / s) + 1

    With ``d = 1`` this is cs231n's ``(W - F + 2P) / S + 1``. When the division
    is not exact the last ``(i + 2p - k_eff) mod s`` rows of the padded input
    are never covered by a window: PyTorch (and the paper) floor and silently
    ignore them; cs231n calls such hyperparameters "invalid". ``exact=True``
    follows cs231n and raises ``ValueError`` in that case.

    Raises ``ValueError`` naming the argument for ``stride < 1``,
    ``padding < 0``, ``dilation < 1`` and for a (dilated) kernel larger than
    the padded input.
    """
    _check("input_size", input_size, 1)
    _check("stride", stride, 1)
    _check("padding", padding, 0)
    k_eff = effective_kernel_size(kernel_size, dilation)
    span = input_size + 2 * padding - k_eff  # room the window can slide over
    if span < 0:
        raise ValueError(
            f"kernel_size {kernel_size} (dilation {dilation}, effective size "
            f"{k_eff}) must not be larger than the padded input "
            f"{input_size} + 2*{padding} = {input_size + 2 * padding}"
        )
    if exact and span % stride != 0:
        raise ValueError(
            f"stride {stride} does not fit: (W - F + 2P)/S + 1 = "
            f"({input_size} - {k_eff} + 2*{padding})/{stride} + 1 = "
            f"{Fraction(span, stride) + 1} is not an integer "
            f"(cs231n calls this setting invalid; PyTorch floors it)"
        )
    return span // stride + 1


# --8<-- [end:conv-output-size]


# --8<-- [start:cs231n-output-size]
def cs231n_output_size(W: int, F: int, P: int, S: int) -> Fraction:
    """cs231n's ``(W - F + 2P) / S + 1`` as an exact fraction (not floored).

    An integer result means the filters tile the padded input exactly; a
    fraction such as ``7/3`` (``W=7, F=3, P=0, S=3``) is what cs231n calls an
    invalid setting. Compare :func:`conv_output_size`, which floors.
    """
    _check("W", W, 1)
    _check("F", F, 1)
    _check("P", P, 0)
    _check("S", S, 1)
    return Fraction(W - F + 2 * P, S) + 1


def uncovered_input(
    input_size: int,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
) -> int:
    """Rows (or columns) at the bottom/right of the padded input no window covers.

    ``(i + 2p - k_eff) mod s``; zero exactly when cs231n's formula is an integer.
    This is also the ``a`` of relationship 14 (Dumoulin & Visin).
    """
    conv_output_size(input_size, kernel_size, stride, padding, dilation)
    k_eff = effective_kernel_size(kernel_size, dilation)
    return (input_size + 2 * padding - k_eff) % stride


# --8<-- [end:cs231n-output-size]


# --8<-- [start:same-padding]
def same_padding(kernel_size: int, dilation: int = 1) -> int:
    """Padding that keeps ``o = i`` at stride 1 (relationship 3, "half" padding).

    ``p = floor(k_eff / 2)``; exact only for an odd effective kernel size, which
    is one reason kernels are odd (3x3, 5x5, 7x7): an even kernel would need
    unequal padding on the two sides.
    """
    k_eff = effective_kernel_size(kernel_size, dilation)
    if k_eff % 2 == 0:
        raise ValueError(
            f"kernel_size {kernel_size} with dilation {dilation} has even effective "
            f"size {k_eff}: same padding needs an odd kernel (equal padding on "
            f"both sides)"
        )
    return k_eff // 2


def full_padding(kernel_size: int, dilation: int = 1) -> int:
    """Padding ``p = k_eff - 1`` that gives ``o = i + (k - 1)`` (relationship 4)."""
    return effective_kernel_size(kernel_size, dilation) - 1


# --8<-- [end:same-padding]


# --8<-- [start:pool-output-size]
def pool_output_size(
    input_size: int,
    kernel_size: int,
    stride: int | None = None,
    padding: int = 0,
    dilation: int = 1,
    ceil_mode: bool = False,
) -> int:
    """Output size of max/avg pooling along one axis, exactly as PyTorch computes it.

    Without padding and with ``ceil_mode=False`` this is relationship 7 of
    Dumoulin & Visin (arXiv:1603.07285): ``o = floor((i - k) / s) + 1``.
    PyTorch adds three rules:

    * ``stride`` defaults to ``kernel_size``;
    * ``padding`` (implicit ``-inf`` for max, zeros for avg) may be at most half
      the kernel: ``p <= k // 2``;
    * ``ceil_mode=True`` rounds up instead of down, so a last, partial window is
      kept, but only if it *starts* inside the input or the left padding:
      if ``(o - 1) * s >= i + p`` the last window is dropped.
    """
    if stride is None:
        stride = kernel_size
    _check("input_size", input_size, 1)
    _check("stride", stride, 1)
    _check("padding", padding, 0)
    k_eff = effective_kernel_size(kernel_size, dilation)
    if padding > kernel_size // 2:
        raise ValueError(
            f"padding {padding} must be at most half of kernel_size "
            f"{kernel_size} (p <= k // 2 = {kernel_size // 2})"
        )
    span = input_size + 2 * padding - k_eff
    if ceil_mode:
        out = -(-span // stride) + 1  # ceil division
        if (out - 1) * stride >= input_size + padding:
            out -= 1  # the last window would start in the right padding
    else:
        out = span // stride + 1
    if out < 1:
        raise ValueError(
            f"kernel_size {kernel_size} (effective size {k_eff}) is larger than the "
            f"padded input {input_size + 2 * padding}: output size {out} < 1"
        )
    return out


# --8<-- [end:pool-output-size]


# --8<-- [start:conv-transpose-output-size]
def conv_transpose_output_size(
    input_size: int,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
    dilation: int = 1,
) -> int:
    """Output size of a transposed convolution along one axis (``nn.ConvTranspose2d``).

    ``o' = s (i' - 1) + a + k_eff - 2p`` with ``a = output_padding``. This is
    relationship 14 of Dumoulin & Visin (arXiv:1603.07285) with dilation: the
    transposed convolution of a convolution with ``(k, s, p)`` maps its output
    size ``i'`` back to its input size ``i``. Because the direct convolution
    floors, ``s`` different input sizes give the same ``i'``; ``a`` (``0 <= a <
    s``) says which one to recover. PyTorch requires ``output_padding`` to be
    smaller than ``stride`` or than ``dilation``.
    """
    _check("input_size", input_size, 1)
    _check("stride", stride, 1)
    _check("padding", padding, 0)
    _check("output_padding", output_padding, 0)
    k_eff = effective_kernel_size(kernel_size, dilation)
    if output_padding >= stride and output_padding >= dilation:
        raise ValueError(
            f"output_padding {output_padding} must be smaller than stride {stride} "
            f"or dilation {dilation}"
        )
    out = stride * (input_size - 1) + output_padding + k_eff - 2 * padding
    if out < 1:
        raise ValueError(
            f"padding {padding} is too large: output size s(i'-1) + a + k - 2p = "
            f"{out} < 1"
        )
    return out


# --8<-- [end:conv-transpose-output-size]


# --8<-- [start:relationships]
@dataclass(frozen=True)
class Relationship:
    """One numbered relationship of Dumoulin & Visin (arXiv:1603.07285).

    For relationships 8-14 (transposed convolutions) ``i`` is the input size
    ``i'`` of the transposed layer and ``k, s, p`` describe the *direct*
    convolution it is the transpose of; ``a = (i + 2p - k) mod s`` of the direct
    convolution (relationship 14).
    """

    number: int
    layer: str  # "conv", "pool" or "transposed"
    setting: str
    formula: str
    output: Callable[..., int]

    def __call__(self, i: int, k: int, s: int = 1, p: int = 0, **kw: int) -> int:
        return self.output(i=i, k=k, s=s, p=p, **kw)


def _fl(a: int, b: int) -> int:
    return a // b


RELATIONSHIPS: dict[int, Relationship] = {
    r.number: r
    for r in [
        Relationship(1, "conv", "no padding, unit strides", "o = (i - k) + 1",
                     lambda i, k, s, p: (i - k) + 1),
        Relationship(2, "conv", "zero padding, unit strides", "o = (i - k) + 2p + 1",
                     lambda i, k, s, p: (i - k) + 2 * p + 1),
        Relationship(3, "conv", "half (same) padding, k odd, p = floor(k/2), s = 1",
                     "o = i", lambda i, k, s, p: i),
        Relationship(4, "conv", "full padding, p = k - 1, s = 1",
                     "o = i + (k - 1)", lambda i, k, s, p: i + (k - 1)),
        Relationship(5, "conv", "no padding, non-unit strides",
                     "o = floor((i - k) / s) + 1",
                     lambda i, k, s, p: _fl(i - k, s) + 1),
        Relationship(6, "conv", "zero padding, non-unit strides",
                     "o = floor((i + 2p - k) / s) + 1",
                     lambda i, k, s, p: _fl(i + 2 * p - k, s) + 1),
        Relationship(7, "pool", "pooling (no padding)",
                     "o = floor((i - k) / s) + 1",
                     lambda i, k, s, p: _fl(i - k, s) + 1),
        Relationship(8, "transposed", "of s = 1, p = 0: k' = k, s' = 1, p' = k - 1",
                     "o' = i' + (k - 1)", lambda i, k, s, p: i + (k - 1)),
        Relationship(9, "transposed", "of s = 1, padding p: p' = k - p - 1",
                     "o' = i' + (k - 1) - 2p",
                     lambda i, k, s, p: i + (k - 1) - 2 * p),
        Relationship(10, "transposed", "of half padding: p' = p", "o' = i'",
                     lambda i, k, s, p: i),
        Relationship(11, "transposed", "of full padding: p' = 0",
                     "o' = i' - (k - 1)", lambda i, k, s, p: i - (k - 1)),
        Relationship(12, "transposed",
                     "of p = 0, s > 1, (i - k) mod s = 0: stretched input, p' = k - 1",
                     "o' = s(i' - 1) + k", lambda i, k, s, p: s * (i - 1) + k),
        Relationship(13, "transposed",
                     "of p, s > 1, (i + 2p - k) mod s = 0: stretched, p' = k - p - 1",
                     "o' = s(i' - 1) + k - 2p",
                     lambda i, k, s, p: s * (i - 1) + k - 2 * p),
        Relationship(14, "transposed",
                     "general: stretched input + a zeros bottom/right, p' = k - p - 1",
                     "o' = s(i' - 1) + a + k - 2p",
                     lambda i, k, s, p, a=0: s * (i - 1) + a + k - 2 * p),
        Relationship(15, "conv", "dilated convolution",
                     "o = floor((i + 2p - k - (k - 1)(d - 1)) / s) + 1",
                     lambda i, k, s, p, d=1: _fl(i + 2 * p - k - (k - 1) * (d - 1), s)
                     + 1),
    ]
}  # fmt: skip
"""The 15 relationships, keyed by their number in the paper."""
# --8<-- [end:relationships]


# --8<-- [start:transposed-as-direct]
@dataclass(frozen=True)
class DirectEquivalent:
    """The direct convolution that computes a transposed one (relationship 14).

    Insert ``s - 1`` zeros between input units (``stretched_size``), add ``a``
    zeros at the bottom/right, pad ``padding`` zeros on every side and slide the
    same kernel with stride 1.
    """

    stretched_size: int  # i~' = s (i' - 1) + 1
    extra: int  # a, zeros added to the bottom and right edges
    kernel_size: int  # k' = k
    stride: int  # s' = 1
    padding: int  # p' = k_eff - p - 1
    output_size: int  # o'


def transposed_as_direct(
    input_size: int,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
    dilation: int = 1,
) -> DirectEquivalent:
    """Describe a transposed convolution as a stride-1 direct convolution.

    Dumoulin & Visin (arXiv:1603.07285), relationships 8-14: the transposed
    convolution "of" ``(k, s, p)`` on an input of size ``i'`` equals a direct
    convolution with ``k' = k``, ``s' = 1`` and ``p' = k_eff - p - 1`` over the
    stretched input; its output size is :func:`conv_transpose_output_size`.
    """
    out = conv_transpose_output_size(
        input_size, kernel_size, stride, padding, output_padding, dilation
    )
    k_eff = effective_kernel_size(kernel_size, dilation)
    p_prime = k_eff - padding - 1
    if p_prime < 0:
        raise ValueError(
            f"padding {padding} > k_eff - 1 = {k_eff - 1}: the equivalent direct "
            f"convolution would need negative padding"
        )
    equiv = DirectEquivalent(
        stretched_size=stride * (input_size - 1) + 1,
        extra=output_padding,
        kernel_size=kernel_size,
        stride=1,
        padding=p_prime,
        output_size=out,
    )
    direct = conv_output_size(
        equiv.stretched_size + equiv.extra, kernel_size, 1, p_prime, dilation
    )
    assert direct == out, "relationship 14 must hold"
    return equiv


# --8<-- [end:transposed-as-direct]


# --8<-- [start:receptive-field]
@dataclass(frozen=True)
class LayerSpec:
    """Geometry of one layer (convolution or pooling) along one axis."""

    kernel_size: int
    stride: int = 1
    padding: int = 0
    dilation: int = 1
    name: str = ""


@dataclass(frozen=True)
class LayerGeometry:
    """Where a layer's outputs look in the network input (one axis).

    ``jump``: distance in input pixels between two adjacent outputs;
    ``receptive_field``: input pixels one output sees; ``start``: centre of the
    receptive field of the first output (may be negative: it lies in padding).
    """

    name: str
    size: int
    jump: int
    receptive_field: int
    start: float


def receptive_fields(
    layers: Sequence[LayerSpec], input_size: int
) -> list[LayerGeometry]:
    """Receptive field and jump after each layer of a stack.

    Recurrences (Araujo et al., Distill 2019, doi:10.23915/distill.00021; the
    jump is the product of strides)::

        j_l = j_{l-1} * s_l
        r_l = r_{l-1} + (k_eff,l - 1) * j_{l-1}
        start_l = start_{l-1} + ((k_eff,l - 1) / 2 - p_l) * j_{l-1}

    The first entry describes the input itself (``r = 1``, ``j = 1``).
    """
    size, jump, rf, start = input_size, 1, 1, 0.0  # pixel centres at 0, 1, 2, ...
    out = [LayerGeometry("input", size, jump, rf, start)]
    for n, layer in enumerate(layers, 1):
        k_eff = effective_kernel_size(layer.kernel_size, layer.dilation)
        size = conv_output_size(
            size, layer.kernel_size, layer.stride, layer.padding, layer.dilation
        )
        start = start + ((k_eff - 1) / 2 - layer.padding) * jump
        rf = rf + (k_eff - 1) * jump
        jump = jump * layer.stride
        out.append(LayerGeometry(layer.name or f"layer{n}", size, jump, rf, start))
    return out


# --8<-- [end:receptive-field]
