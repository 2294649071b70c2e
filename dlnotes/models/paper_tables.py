"""Published complexity tables, recomputed from the models in dlnotes.

He et al. 2015, arXiv:1512.03385: Table 1 ("FLOPs" row, which counts
multiply-adds of the convolutions and the fully connected layer at 224x224)
and Table 6 (parameters of the CIFAR-10 networks, option A shortcuts); and
torchvision's documented ``num_params`` and ``GFLOPS`` of the classic CNNs
(its "GFLOPS" are multiply-adds of the convolutions and linear layers, the
same convention as Table 1).

The numbers come from :func:`dlnotes.complexity.profile`; the ImageNet models are
built on PyTorch's ``meta`` device (shapes only: no memory, no arithmetic).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch

from dlnotes.complexity import format_count, profile
from dlnotes.models.cifar import PAPER_DEPTHS, cifar_resnet
from dlnotes.models.registry import create_model, model_entry
from dlnotes.models.resnet import DEPTHS, resnet

__all__ = [
    "CLASSIC_MODELS",
    "PAPER_CIFAR_PARAMS",
    "PAPER_IMAGENET_MULT_ADDS",
    "TORCHVISION_NUMBERS",
    "CifarRow",
    "ClassicRow",
    "ImageNetRow",
    "cifar_markdown",
    "cifar_table",
    "classic_markdown",
    "classic_table",
    "imagenet_markdown",
    "imagenet_table",
]

# --8<-- [start:paper-numbers]
# Table 1, last row ("FLOPs"; the paper means multiply-adds) at 224x224.
PAPER_IMAGENET_MULT_ADDS: dict[int, float] = {
    18: 1.8e9,
    34: 3.6e9,
    50: 3.8e9,
    101: 7.6e9,
    152: 11.3e9,
}
# Table 6, "#params" of the CIFAR-10 ResNets (option A: parameter-free shortcuts).
PAPER_CIFAR_PARAMS: dict[int, float] = {
    20: 0.27e6,
    32: 0.46e6,
    44: 0.66e6,
    56: 0.85e6,
    110: 1.7e6,
    1202: 19.4e6,
}
# --8<-- [end:paper-numbers]

# --8<-- [start:torchvision-numbers]
# torchvision's model docs (pytorch.org/vision/stable/models): num_params and
# GFLOPS (= 10^9 multiply-adds of conv + linear layers) at 224x224.
TORCHVISION_NUMBERS: dict[str, tuple[int, float]] = {
    "alexnet": (61_100_840, 0.71),
    "vgg16": (138_357_544, 15.47),
    "vgg19": (143_667_240, 19.63),
    "googlenet": (6_624_904, 1.50),
    "resnet18": (11_689_512, 1.81),
    "resnet50": (25_557_032, 4.09),
    "resnet152": (60_192_808, 11.51),
    "densenet121": (7_978_856, 2.83),
    "densenet161": (28_681_000, 7.73),
    "densenet169": (14_149_480, 3.36),
    "densenet201": (20_013_928, 4.29),
}
# --8<-- [end:torchvision-numbers]
# In historical order; LeNet-5 (32x32 grey) and NiN have no torchvision model.
CLASSIC_MODELS = (
    ("lenet5", "LeNet-5", 1998),
    ("alexnet", "AlexNet", 2012),
    ("nin", "NiN", 2013),
    ("vgg16", "VGG-16", 2014),
    ("vgg19", "VGG-19", 2014),
    ("googlenet", "GoogLeNet", 2014),
    ("resnet18", "ResNet-18", 2015),
    ("resnet50", "ResNet-50", 2015),
    ("resnet152", "ResNet-152", 2015),
    ("densenet121", "DenseNet-121", 2016),
    ("densenet161", "DenseNet-161", 2016),
    ("densenet169", "DenseNet-169", 2016),
    ("densenet201", "DenseNet-201", 2016),
)


@dataclass(frozen=True)
class ImageNetRow:
    """One depth of Table 1: parameters and conv+fc multiply-adds at 224x224."""

    depth: int
    params: int  # identical for v1 and v1.5
    macs_v1: int  # stride on the first 1x1 conv (the paper)
    macs_v1_5: int  # stride on the 3x3 conv (torchvision)
    paper_macs: float


@dataclass(frozen=True)
class CifarRow:
    """One depth of Table 6: parameters with shortcut options A, B, C."""

    depth: int
    params_a: int
    params_b: int
    params_c: int
    macs: int  # conv+fc multiply-adds at 32x32 (option A; not in the paper)
    paper_params: float


@dataclass(frozen=True)
class ClassicRow:
    """One classic CNN at its default input size (224x224; LeNet-5 32x32)."""

    name: str  # registry name
    title: str
    year: int
    input_size: tuple[int, int, int]
    params: int
    macs: int  # conv + linear multiply-adds
    torchvision: tuple[int, float] | None  # (num_params, GFLOPS) or None


def _conv_fc_macs(
    model: torch.nn.Module, input_size: tuple[int, ...]
) -> tuple[int, int]:
    prof = profile(model, input_size)
    return prof.params, prof.macs_of("Conv2d", "Linear")


@functools.cache
def imagenet_table(input_size: int = 224) -> tuple[ImageNetRow, ...]:
    """Params and multiply-adds of every ImageNet depth, v1 and v1.5."""
    rows = []
    shape = (1, 3, input_size, input_size)
    for depth in DEPTHS:
        with torch.device("meta"):
            params, macs_v1 = _conv_fc_macs(resnet(depth, version="1"), shape)
            params_15, macs_15 = _conv_fc_macs(resnet(depth, version="1.5"), shape)
        assert params == params_15  # the stride moves, no weight does
        rows.append(
            ImageNetRow(
                depth, params, macs_v1, macs_15, PAPER_IMAGENET_MULT_ADDS[depth]
            )
        )
    return tuple(rows)


@functools.cache
def cifar_table() -> tuple[CifarRow, ...]:
    """Params (options A/B/C) and multiply-adds of every CIFAR depth."""
    rows = []
    for depth in PAPER_DEPTHS:
        # many small tensors: faster on the CPU than on the meta device
        params_a, macs = _conv_fc_macs(cifar_resnet(depth), (1, 3, 32, 32))
        params_b, params_c = (
            sum(p.numel() for p in cifar_resnet(depth, shortcut=s).parameters())
            for s in "BC"
        )
        rows.append(
            CifarRow(
                depth, params_a, params_b, params_c, macs, PAPER_CIFAR_PARAMS[depth]
            )
        )
    return tuple(rows)


def _pct(value: float, reference: float) -> str:
    return f"{100 * (value - reference) / reference:+.1f}%"


def imagenet_markdown() -> str:
    """Table 1's complexity row as a Markdown table (numbers in 10^9 and 10^6)."""
    lines = [
        "| 层数 | 参数量 (M) | 论文 FLOPs (10⁹) "
        "| v1 乘加 (10⁹) | 偏差 | v1.5 乘加 (10⁹) | 偏差 |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in imagenet_table():
        lines.append(
            f"| {r.depth} | {r.params / 1e6:.2f} | {r.paper_macs / 1e9:.1f} "
            f"| {r.macs_v1 / 1e9:.2f} | {_pct(r.macs_v1, r.paper_macs)} "
            f"| {r.macs_v1_5 / 1e9:.2f} | {_pct(r.macs_v1_5, r.paper_macs)} |"
        )
    return "\n".join(lines)


def cifar_markdown() -> str:
    """Table 6's parameter counts as a Markdown table."""
    lines = [
        "| 层数 | n | 论文参数量 (M) | 选项 A | 偏差 | 选项 B | 选项 C | 乘加 (10⁶) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in cifar_table():
        lines.append(
            f"| {r.depth} | {(r.depth - 2) // 6} | {r.paper_params / 1e6:.2f} "
            f"| {r.params_a:,} | {_pct(r.params_a, r.paper_params)} "
            f"| {r.params_b:,} | {r.params_c:,} | {r.macs / 1e6:.1f} |"
        )
    return "\n".join(lines)


@functools.cache
def classic_table() -> tuple[ClassicRow, ...]:
    """Params and conv+linear multiply-adds of the classic CNNs (meta device)."""
    rows = []
    for name, title, year in CLASSIC_MODELS:
        size = model_entry(name).data_config.input_size
        with torch.device("meta"):
            params, macs = _conv_fc_macs(create_model(name), (1, *size))
        rows.append(
            ClassicRow(
                name, title, year, size, params, macs, TORCHVISION_NUMBERS.get(name)
            )
        )
    return tuple(rows)


def classic_markdown() -> str:
    """The classic CNNs' complexity as a Markdown table, torchvision's beside."""
    lines = [
        "| 网络 | 年份 | 输入 | 参数量 | torchvision 参数量 "
        "| 乘加 | torchvision GFLOPS |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in classic_table():
        tv_params, tv_gflops = (
            (f"{r.torchvision[0]:,}", f"{r.torchvision[1]:.2f}")
            if r.torchvision
            else ("—", "—")
        )
        c, h, w = r.input_size
        lines.append(
            f"| {r.title} | {r.year} | {c}×{h}×{w} | {r.params:,} | {tv_params} "
            f"| {format_count(r.macs)} | {tv_gflops} |"
        )
    return "\n".join(lines)
