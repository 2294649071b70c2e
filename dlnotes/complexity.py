"""Time and space complexity of layers and of any ``torch.nn.Module``.

Three numbers describe what a network costs:

* **params**: learnable numbers, ``sum(p.numel() for p in model.parameters())``;
* **MACs** (multiply-accumulates): one MAC is ``a += w * x``. A FLOP counter that
  counts the multiply and the add separately reports ``FLOPs = 2 × MACs``. Papers
  mix the two: the ResNet paper (He et al. 2015, arXiv:1512.03385, Table 1) writes
  "FLOPs" but means multiply-adds, i.e. MACs;
* **activations**: the elements of every leaf layer's output, which a training step
  keeps for the backward pass (the feature-map part of the space complexity).

:func:`profile` runs one forward pass with hooks on every *leaf* module (a module
without children) and applies one rule per layer type. The conventions:

====================================  ===============================================
layer                                 MACs counted
====================================  ===============================================
Conv1d/2d/3d                          ``out.numel() · C_in/groups · prod(kernel_size)``;
                                      dilation changes nothing, bias adds are not MACs
ConvTranspose1d/2d/3d                 ``in.numel() · C_out/groups · prod(kernel_size)``
                                      (each input element scatters a whole kernel)
Linear                                ``out.numel() · in_features`` (no bias)
Bilinear                              ``out.numel() · in1_features · in2_features``
RNN / LSTM / GRU                      the gate GEMMs of every step, layer, direction:
                                      ``steps · batch · G·H·(D_in + H)``, G = 1/4/3;
                                      elementwise gate products are not counted
BatchNorm, LayerNorm, GroupNorm,      ``out.numel()`` when the layer has an affine map
InstanceNorm                          or running statistics: at inference it reduces to
                                      ``y = a·x + b``, one MAC per element (and can be
                                      folded into the previous conv, costing 0)
pooling, activations, Dropout,        0: comparisons, additions, table look-ups and
Embedding, Flatten, Identity          elementwise functions are not multiply-adds
====================================  ===============================================

Only leaf modules are seen: work done with functions inside a ``forward`` (the
residual ``out + identity`` of a ResNet block, ``torch.flatten``, ``F.relu``) is
invisible. Those are additions or elementwise ops (0 MACs by the rules above), but a
``torch.matmul`` in a custom ``forward`` would be missed. Layers of an unknown type
that own parameters are listed in :attr:`ModelProfile.uncounted`.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence

from dlnotes.numpy.arithmetic import IntPair, as_pair, conv_output_size
from dlnotes.numpy.conv import conv_param_count

__all__ = [
    "LayerProfile",
    "ModelProfile",
    "conv2d_macs",
    "conv2d_output_size",
    "conv2d_params",
    "example_cnn",
    "format_count",
    "layer_macs",
    "linear_macs",
    "linear_params",
    "lstm_macs",
    "lstm_params",
    "profile",
    "rnn_macs",
    "rnn_params",
]


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")


# --8<-- [start:conv2d-formulas]
def conv2d_params(
    in_channels: int,
    out_channels: int,
    kernel_size: IntPair,
    *,
    groups: int = 1,
    bias: bool = True,
) -> int:
    """Parameters of ``nn.Conv2d``: ``C_out · (C_in/groups) · KH · KW (+ C_out)``.

    Each filter sees only its group's ``C_in/groups`` channels, so this is
    :func:`~dlnotes.numpy.conv.conv_param_count` with ``C_in/groups`` inputs.
    """
    _check_positive(in_channels=in_channels, out_channels=out_channels, groups=groups)
    if in_channels % groups or out_channels % groups:
        raise ValueError(
            f"groups must divide in_channels and out_channels, got groups={groups}, "
            f"in_channels={in_channels}, out_channels={out_channels}"
        )
    return conv_param_count(in_channels // groups, out_channels, kernel_size, bias=bias)


def conv2d_output_size(
    input_size: IntPair,
    kernel_size: IntPair,
    *,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
) -> tuple[int, int]:
    """``(H_out, W_out)`` of a convolution: ``⌊(H + 2P − D·(K−1) − 1)/S⌋ + 1``
    (:func:`~dlnotes.numpy.arithmetic.conv_output_size` on each axis)."""
    size = as_pair(input_size, "input_size", 1)
    k, s = as_pair(kernel_size, "kernel_size", 1), as_pair(stride, "stride", 1)
    p, d = as_pair(padding, "padding", 0), as_pair(dilation, "dilation", 1)
    h_out, w_out = (conv_output_size(size[i], k[i], s[i], p[i], d[i]) for i in (0, 1))
    return h_out, w_out


def conv2d_macs(
    in_channels: int,
    out_channels: int,
    kernel_size: IntPair,
    output_size: IntPair,
    *,
    groups: int = 1,
    batch_size: int = 1,
) -> int:
    """Multiply-accumulates of ``nn.Conv2d``.

    Every output element (``N · C_out · H_out · W_out`` of them) is one dot product
    of length ``(C_in/groups) · KH · KW``; the bias add is not a MAC.
    """
    h_out, w_out = as_pair(output_size, "output_size", 1)
    # validates channels/groups; the weight count is C_out · C_in/groups · KH · KW
    weights = conv2d_params(
        in_channels, out_channels, kernel_size, groups=groups, bias=False
    )
    _check_positive(batch_size=batch_size)
    return batch_size * h_out * w_out * weights


# --8<-- [end:conv2d-formulas]


def linear_params(in_features: int, out_features: int, *, bias: bool = True) -> int:
    """Parameters of ``nn.Linear``: ``in·out (+ out)``."""
    _check_positive(in_features=in_features, out_features=out_features)
    return in_features * out_features + (out_features if bias else 0)


def linear_macs(in_features: int, out_features: int, *, batch_size: int = 1) -> int:
    """Multiply-accumulates of ``nn.Linear`` on ``batch_size`` rows: ``N·in·out``."""
    _check_positive(
        in_features=in_features, out_features=out_features, batch_size=batch_size
    )
    return batch_size * in_features * out_features


_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _layer_inputs(
    input_size: int, hidden_size: int, num_layers: int, num_directions: int
) -> Iterator[int]:
    for layer in range(num_layers):
        yield input_size if layer == 0 else hidden_size * num_directions


# --8<-- [start:rnn-formulas]
def rnn_params(
    input_size: int,
    hidden_size: int,
    *,
    gates: int = 1,
    num_layers: int = 1,
    bias: bool = True,
    bidirectional: bool = False,
) -> int:
    """Parameters of a (multi-layer) RNN with ``gates`` stacked gates (RNN 1, GRU 3,
    LSTM 4): per layer and direction ``G·H·(D_in + H)`` weights ``+ 2·G·H`` biases
    (PyTorch keeps two bias vectors, ``bias_ih`` and ``bias_hh``)."""
    _check_positive(
        input_size=input_size,
        hidden_size=hidden_size,
        gates=gates,
        num_layers=num_layers,
    )
    dirs = 2 if bidirectional else 1
    total = 0
    for d_in in _layer_inputs(input_size, hidden_size, num_layers, dirs):
        per_direction = gates * hidden_size * (d_in + hidden_size)
        per_direction += 2 * gates * hidden_size if bias else 0
        total += dirs * per_direction
    return total


def rnn_macs(
    seq_len: int,
    batch_size: int,
    input_size: int,
    hidden_size: int,
    *,
    gates: int = 1,
    num_layers: int = 1,
    bidirectional: bool = False,
) -> int:
    """Gate-GEMM multiply-accumulates of a (multi-layer) RNN over a sequence:
    ``T · N · Σ_layers dirs · G·H·(D_in + H)``.

    The elementwise products of the cell (LSTM: ``f⊙c``, ``i⊙g``, ``o⊙tanh c``) are
    ``3·T·N·H``, under 1 % of the total once ``D_in + H`` is large, and not counted.
    """
    _check_positive(seq_len=seq_len, batch_size=batch_size)
    weights = rnn_params(
        input_size,
        hidden_size,
        gates=gates,
        num_layers=num_layers,
        bias=False,
        bidirectional=bidirectional,
    )
    return seq_len * batch_size * weights


def lstm_params(
    input_size: int,
    hidden_size: int,
    *,
    num_layers: int = 1,
    bias: bool = True,
    bidirectional: bool = False,
) -> int:
    """Parameters of ``nn.LSTM``: ``4H(D + H) + 8H`` per layer and direction."""
    return rnn_params(
        input_size,
        hidden_size,
        gates=4,
        num_layers=num_layers,
        bias=bias,
        bidirectional=bidirectional,
    )


def lstm_macs(
    seq_len: int,
    batch_size: int,
    input_size: int,
    hidden_size: int,
    *,
    num_layers: int = 1,
    bidirectional: bool = False,
) -> int:
    """Gate-GEMM MACs of ``nn.LSTM``: ``T · N · 4H(D + H)`` for one layer."""
    return rnn_macs(
        seq_len,
        batch_size,
        input_size,
        hidden_size,
        gates=4,
        num_layers=num_layers,
        bidirectional=bidirectional,
    )


# --8<-- [end:rnn-formulas]


# --8<-- [start:example-cnn]
def example_cnn(num_classes: int = 10) -> nn.Sequential:
    """A small CNN for 3×32×32 images in cs231n's pattern
    ``INPUT → [[CONV → RELU]*2 → POOL]*2 → FC → RELU → FC`` (N = 2, M = 2, K = 1).
    """
    return nn.Sequential(
        OrderedDict(
            conv1=nn.Conv2d(3, 32, 3, padding=1),  # 32×32×32
            relu1=nn.ReLU(),
            conv2=nn.Conv2d(32, 32, 3, padding=1),
            relu2=nn.ReLU(),
            pool1=nn.MaxPool2d(2),  # 32×16×16
            conv3=nn.Conv2d(32, 64, 3, padding=1),  # 64×16×16
            relu3=nn.ReLU(),
            conv4=nn.Conv2d(64, 64, 3, padding=1),
            relu4=nn.ReLU(),
            pool2=nn.MaxPool2d(2),  # 64×8×8
            flatten=nn.Flatten(),  # 4096
            fc1=nn.Linear(64 * 8 * 8, 256),
            relu5=nn.ReLU(),
            fc2=nn.Linear(256, num_classes),
        )
    )


# --8<-- [end:example-cnn]


# ---------------------------------------------------------------------------
# Per-layer rules used by the forward hooks
# ---------------------------------------------------------------------------

# fmt: off
_ZERO_MAC_TYPES: tuple[type[nn.Module], ...] = (
    # pooling: comparisons or additions (the 1/k² of average pooling is one scale)
    nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d,
    nn.AvgPool3d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d,
    nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d, nn.LPPool2d,
    # elementwise nonlinearities
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU,
    nn.SiLU, nn.Mish, nn.Sigmoid, nn.Tanh, nn.Hardtanh, nn.Hardswish,
    nn.Hardsigmoid, nn.Softmax, nn.LogSoftmax, nn.Softplus,
    # masks, look-ups and reshapes
    nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout,
    nn.Embedding, nn.EmbeddingBag, nn.Flatten, nn.Unflatten, nn.Identity,
    nn.Upsample, nn.ZeroPad2d, nn.ConstantPad2d, nn.ReflectionPad2d,
    nn.ReplicationPad2d, nn.PixelShuffle, nn.ChannelShuffle,
)

_NORM_TYPES: tuple[type[nn.Module], ...] = (
    nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm, nn.LayerNorm,
    nn.GroupNorm, nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d,
)
# fmt: on


def _first_tensor(obj: Any) -> torch.Tensor | None:
    if isinstance(obj, torch.Tensor):
        return obj
    if isinstance(obj, PackedSequence):
        return obj.data
    if isinstance(obj, (tuple, list)):
        for item in obj:
            found = _first_tensor(item)
            if found is not None:
                return found
    return None


def _all_tensors(obj: Any) -> Iterator[torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, PackedSequence):
        yield obj.data
    elif isinstance(obj, (tuple, list)):
        for item in obj:
            yield from _all_tensors(item)
    elif isinstance(obj, dict):
        for item in obj.values():
            yield from _all_tensors(item)


def _rnn_steps_times_batch(module: nn.RNNBase, x: Any) -> int:
    """Number of (time step, sequence) pairs the RNN processes."""
    if isinstance(x, PackedSequence):
        return int(x.data.shape[0])  # sum of the sequence lengths
    assert isinstance(x, torch.Tensor)
    if x.dim() == 2:  # unbatched (T, D)
        return int(x.shape[0])
    return int(x.shape[0] * x.shape[1])  # (T, N, D) or (N, T, D)


def _rnn_layer_macs(module: nn.RNNBase, x: Any) -> int:
    gates = _GATES[module.mode]
    hidden, dirs = module.hidden_size, 2 if module.bidirectional else 1
    proj = getattr(module, "proj_size", 0)
    out_h = proj if proj > 0 else hidden  # size of h_t fed back and passed up
    per_step = 0
    for layer in range(module.num_layers):
        d_in = module.input_size if layer == 0 else out_h * dirs
        cost = gates * hidden * (d_in + out_h)
        if proj > 0:
            cost += hidden * proj  # h_t = W_hr (o ⊙ tanh c_t)
        per_step += dirs * cost
    return _rnn_steps_times_batch(module, x) * per_step


def layer_macs(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> int | None:
    """MACs of one call of a leaf ``module``, or ``None`` for an unknown type."""
    out = _first_tensor(output)
    x = inputs[0] if inputs else None
    if isinstance(module, nn.modules.conv._ConvTransposeNd):
        assert isinstance(x, torch.Tensor)
        kernel = math.prod(module.kernel_size)
        return x.numel() * (module.out_channels // module.groups) * kernel
    if isinstance(module, nn.modules.conv._ConvNd):
        assert out is not None
        kernel = math.prod(module.kernel_size)
        return out.numel() * (module.in_channels // module.groups) * kernel
    if isinstance(module, nn.Linear):
        assert out is not None
        return out.numel() * module.in_features
    if isinstance(module, nn.Bilinear):
        assert out is not None
        return out.numel() * module.in1_features * module.in2_features
    if isinstance(module, nn.RNNBase):
        return _rnn_layer_macs(module, x)
    if isinstance(module, _NORM_TYPES):
        affine = bool(getattr(module, "affine", False)) or bool(
            getattr(module, "elementwise_affine", False)
        )
        running = getattr(module, "running_mean", None) is not None
        assert out is not None
        return out.numel() if (affine or running) else 0
    if isinstance(module, _ZERO_MAC_TYPES):
        return 0
    return None


# ---------------------------------------------------------------------------
# Profiles
# ---------------------------------------------------------------------------


def format_count(n: float, unit: str = "") -> str:
    """``format_count(3_864_000_000, "MACs") -> '3.86 GMACs'`` (powers of 1000)."""
    for prefix, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {prefix}{unit}"
    return f"{int(n)} {unit}".rstrip()


# --8<-- [start:profile-classes]
@dataclass(frozen=True)
class LayerProfile:
    """One call of one leaf module."""

    name: str  # qualified name in the model, e.g. "layer1.0.conv1"
    type: str  # class name, e.g. "Conv2d"
    output_shape: tuple[int, ...]  # shape of the (first) output tensor
    params: int  # parameters owned by the module (0 on its repeated calls)
    macs: int  # multiply-accumulates of this call (0 when uncounted)
    activations: int  # elements of all output tensors
    activation_bytes: int  # bytes of all output tensors
    counted: bool = True  # False: unknown type with parameters, MACs not known


@dataclass
class ModelProfile:
    """Totals and per-layer rows of one forward pass (see :func:`profile`)."""

    params: int  # sum(p.numel() for p in model.parameters())
    macs: int  # sum of the rows' MACs
    activations: int  # output elements of all leaf layers
    activation_bytes: int
    param_bytes: int
    input_size: tuple[int, ...]
    rows: list[LayerProfile] = field(default_factory=list)

    @property
    def flops(self) -> int:
        """FLOPs counting a multiply and an add separately: ``2 × MACs``."""
        return 2 * self.macs

    @property
    def uncounted(self) -> list[str]:
        """Layers with parameters whose type has no MAC rule."""
        return [row.name for row in self.rows if not row.counted]

    def macs_by_type(self) -> dict[str, int]:
        """MACs summed per layer type, e.g. ``{"Conv2d": ..., "Linear": ...}``."""
        totals: dict[str, int] = {}
        for row in self.rows:
            totals[row.type] = totals.get(row.type, 0) + row.macs
        return totals

    def macs_of(self, *types: str) -> int:
        """MACs of the layers whose type name is in ``types``.

        ``macs_of("Conv2d", "Linear")`` is what the ResNet paper's Table 1 calls
        "FLOPs" (multiply-adds of the convolutions and the classifier).
        """
        return sum(row.macs for row in self.rows if row.type in types)

    # --8<-- [end:profile-classes]

    def _table_rows(self) -> list[list[str]]:
        rows = []
        for row in self.rows:
            share = 100 * row.macs / self.macs if self.macs else 0.0
            rows.append(
                [
                    row.name,
                    row.type,
                    "×".join(map(str, row.output_shape)),
                    f"{row.params:,}",
                    f"{row.macs:,}" + ("" if row.counted else " ?"),
                    f"{share:.1f}%",
                    f"{row.activations:,}",
                ]
            )
        return rows

    _HEADERS = (
        "Layer",
        "Type",
        "Output shape",
        "Params",
        "MACs",
        "MAC %",
        "Activations",
    )

    def summary(self) -> str:
        """One line per total, with units named."""
        return "\n".join(
            [
                f"Input size:  {'×'.join(map(str, self.input_size))}",
                f"Params:      {self.params:,} ({format_count(self.params)}, "
                f"{self.param_bytes / 2**20:.2f} MiB)",
                f"MACs:        {self.macs:,} ({format_count(self.macs, 'MACs')})",
                f"FLOPs:       {self.flops:,} ({format_count(self.flops, 'FLOPs')})"
                " = 2 × MACs",
                f"Activations: {self.activations:,} elements "
                f"({self.activation_bytes / 2**20:.2f} MiB)",
            ]
        )

    def table(self) -> str:
        """A plain-text per-layer table followed by the totals."""
        body = self._table_rows()
        widths = [
            max(len(h), *(len(r[i]) for r in body)) if body else len(h)
            for i, h in enumerate(self._HEADERS)
        ]
        right = {3, 4, 5, 6}

        def fmt(cells: Sequence[str]) -> str:
            return "  ".join(
                c.rjust(w) if i in right else c.ljust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            ).rstrip()

        lines = [fmt(self._HEADERS), fmt(["-" * w for w in widths])]
        lines += [fmt(r) for r in body]
        lines += [fmt(["-" * w for w in widths]), self.summary()]
        return "\n".join(lines)

    def to_markdown(self) -> str:
        """The per-layer table as Markdown, with a totals row."""
        lines = [
            "| " + " | ".join(self._HEADERS) + " |",
            "| --- | --- | --- | ---: | ---: | ---: | ---: |",
        ]
        for r in self._table_rows():
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in r) + " |")
        lines.append(
            f"| **Total** | | | **{self.params:,}** | **{self.macs:,}** | 100% "
            f"| **{self.activations:,}** |"
        )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def _leaf_modules(model: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    for name, module in model.named_modules():
        if next(module.children(), None) is None:
            yield name or type(module).__name__, module


# --8<-- [start:profile]
def profile(
    model: nn.Module,
    input_size: tuple[int, ...],
    *,
    dtype: torch.dtype = torch.float32,
) -> ModelProfile:
    """Params, MACs and activation memory of ``model`` on one input of
    ``input_size`` (batch dimension included, e.g. ``(1, 3, 224, 224)``; an LSTM
    takes ``(T, N, D)``).

    Runs one forward pass in eval mode under ``torch.no_grad()`` (the training
    flags are restored afterwards) on a random input of ``dtype``; an integer
    ``dtype`` (``torch.long``) feeds zeros, e.g. token ids for an ``Embedding``.
    A forward hook on every leaf module records one row per call.
    """
    if not input_size or any(int(s) < 1 for s in input_size):
        raise ValueError(f"input_size must be positive ints, got {input_size!r}")
    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    if dtype.is_floating_point:
        if first is not None and first.is_floating_point() and first.dtype != dtype:
            raise ValueError(
                f"dtype must match the model's parameters ({first.dtype}), got {dtype}"
            )
        x = torch.randn(tuple(input_size), dtype=dtype, device=device)
    else:
        x = torch.zeros(tuple(input_size), dtype=dtype, device=device)

    rows: list[LayerProfile] = []
    seen: dict[int, int] = {}  # id(module) -> number of calls so far

    def make_hook(name: str) -> Callable[..., None]:
        def hook(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
            calls = seen.get(id(module), 0)
            seen[id(module)] = calls + 1
            own = sum(p.numel() for p in module.parameters(recurse=False))
            macs = layer_macs(module, inputs, output)
            tensors = list(_all_tensors(output))
            out = _first_tensor(output)
            rows.append(
                LayerProfile(
                    name=name if calls == 0 else f"{name} ({calls + 1})",
                    type=type(module).__name__,
                    output_shape=tuple(out.shape) if out is not None else (),
                    params=own if calls == 0 else 0,
                    macs=macs or 0,
                    activations=sum(t.numel() for t in tensors),
                    activation_bytes=sum(t.numel() * t.element_size() for t in tensors),
                    counted=macs is not None or own == 0,
                )
            )

        return hook

    handles = [m.register_forward_hook(make_hook(n)) for n, m in _leaf_modules(model)]
    modes = {m: m.training for m in model.modules()}
    try:
        model.eval()
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
        for module, training in modes.items():
            module.training = training

    params = list(model.parameters())
    return ModelProfile(
        params=sum(p.numel() for p in params),
        macs=sum(r.macs for r in rows),
        activations=sum(r.activations for r in rows),
        activation_bytes=sum(r.activation_bytes for r in rows),
        param_bytes=sum(p.numel() * p.element_size() for p in params),
        input_size=tuple(int(s) for s in input_size),
        rows=rows,
    )


# --8<-- [end:profile]
