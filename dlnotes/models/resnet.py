"""ResNet for ImageNet: v1 (the paper), v1.5 (torchvision) and v2 (pre-activation).

* v1: He, Zhang, Ren, Sun 2015, "Deep Residual Learning for Image Recognition",
  arXiv:1512.03385, Table 1. The bottleneck downsamples with stride 2 on its
  first 1x1 convolution.
* v1.5: the same network as torchvision builds it: the stride sits on the 3x3
  convolution of the bottleneck. Parameter names and shapes are exactly
  torchvision's, so its checkpoints load (see :mod:`dlnotes.models.torchvision_compat`).
* v2: He, Zhang, Ren, Sun 2016, "Identity Mappings in Deep Residual Networks",
  arXiv:1603.05027: pre-activation units (BN -> ReLU -> conv) and nothing on the
  shortcut path after the addition.

Shapes (input ``(N, 3, 224, 224)``): stem -> ``(N, 64, 56, 56)``; ``layer1`` keeps
56x56, ``layer2`` 28x28, ``layer3`` 14x14, ``layer4`` 7x7 with
``64/128/256/512 * expansion`` channels; ``fc`` gives ``(N, num_classes)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, cast

import torch
from torch import Tensor, nn

from dlnotes.models._common import FeatureInfo, init_conv_bn_
from dlnotes.models.registry import IMAGENET_DATA, register_model

__all__ = [
    "TRAIN_DEFAULTS",
    "VERSIONS",
    "BasicBlock",
    "Bottleneck",
    "BottleneckV1",
    "PreActBasicBlock",
    "PreActBottleneck",
    "ResNet",
    "resnet",
    "resnet18",
    "resnet18_v1",
    "resnet18_v2",
    "resnet34",
    "resnet34_v1",
    "resnet34_v2",
    "resnet50",
    "resnet50_v1",
    "resnet50_v2",
    "resnet101",
    "resnet101_v1",
    "resnet101_v2",
    "resnet152",
    "resnet152_v1",
    "resnet152_v2",
]

VERSIONS = ("1", "1.5", "2")
"""ResNet versions: "1" (paper), "1.5" (torchvision), "2" (pre-activation)."""

TRAIN_DEFAULTS: dict[str, Any] = {"lr": 0.05, "batch_size": 32}
"""``dlnotes train`` settings for digits (1,437 training images): with the global
batch 128 and lr 0.1 ResNet-18 stays at 10 % for two epochs (12 steps each);
batch 32 and lr 0.05 reach 91.6 % test accuracy after two epochs."""


def conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """3x3 convolution with padding 1 and no bias (a BN follows it)."""
    return nn.Conv2d(in_planes, out_planes, 3, stride=stride, padding=1, bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution without bias."""
    return nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False)


class ResidualBlock(nn.Module):
    """Base class of the residual units: class attributes only.

    ``expansion``: output channels = ``planes * expansion``.
    ``preact``: True for the pre-activation (v2) units.
    """

    expansion: ClassVar[int] = 1
    preact: ClassVar[bool] = False

    def zero_init_last(self) -> None:
        """Make the residual branch output zero, so the unit starts as identity."""
        raise NotImplementedError


# --8<-- [start:basic-block]
class BasicBlock(ResidualBlock):
    """Two 3x3 convolutions and a shortcut (paper Fig. 2, Fig. 5 left).

    Used by ResNet-18/34. ``(N, inplanes, H, W) -> (N, planes, H/stride, W/stride)``.
    """

    expansion: ClassVar[int] = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)  # stride 2 here: downsample
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample  # None: solid shortcut; else dashed (1x1 conv)
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))  # F(x): no ReLU before the addition
        return self.relu(out + identity)  # y = ReLU(F(x) + x), paper Eq. (1)

    def zero_init_last(self) -> None:
        nn.init.zeros_(self.bn2.weight)


# --8<-- [end:basic-block]


# --8<-- [start:bottleneck]
class Bottleneck(ResidualBlock):
    """1x1 (reduce) -> 3x3 -> 1x1 (restore) and a shortcut (paper Fig. 5 right).

    Used by ResNet-50/101/152. ``(N, inplanes, H, W) -> (N, 4*planes, H/s, W/s)``.
    This is v1.5: the stride is on the 3x3 convolution, as in torchvision.
    """

    expansion: ClassVar[int] = 4
    stride_in_1x1: ClassVar[bool] = False

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
    ) -> None:
        super().__init__()
        s1, s3 = (stride, 1) if self.stride_in_1x1 else (1, stride)
        self.conv1 = conv1x1(inplanes, planes, s1)  # reduce: 256 -> 64 channels
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, s3)  # the 3x3 works on 64 channels
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)  # restore: 64 -> 256
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))  # (N, planes, H/s1, W/s1)
        out = self.relu(self.bn2(self.conv2(out)))  # (N, planes, H/s, W/s)
        out = self.bn3(self.conv3(out))  # (N, 4*planes, H/s, W/s)
        return self.relu(out + identity)

    def zero_init_last(self) -> None:
        nn.init.zeros_(self.bn3.weight)


class BottleneckV1(Bottleneck):
    """The paper's bottleneck (v1): stride 2 on the *first* 1x1 convolution.

    A 1x1 convolution with stride 2 reads only one input position in four, so
    3/4 of the activations never reach the block. v1.5 moves the stride to the
    3x3 convolution, which sees every position: slightly more multiply-adds
    (4.1e9 instead of 3.9e9 for ResNet-50) and about 0.5 % better top-1 accuracy.
    The parameters are identical.
    """

    stride_in_1x1: ClassVar[bool] = True


# --8<-- [end:bottleneck]


# --8<-- [start:preact-blocks]
class PreActBasicBlock(ResidualBlock):
    """Pre-activation basic unit (v2, arXiv:1603.05027 Fig. 1b and Fig. 4e).

    ``BN -> ReLU -> conv3x3 -> BN -> ReLU -> conv3x3``, added to the shortcut with
    nothing after the addition, so ``x_{l+1} = x_l + F(x_l)`` is a clean identity.
    ``preact=False`` drops the first BN-ReLU: the unit right after the stem
    reuses the stem's BN-ReLU (the paper's appendix).
    """

    expansion: ClassVar[int] = 1
    preact: ClassVar[bool] = True

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        *,
        preact: bool = True,
    ) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes) if preact else None
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        out = x if self.bn1 is None else self.relu(self.bn1(x))
        # A projection shortcut reads the pre-activated input (both paths share
        # the BN-ReLU); an identity shortcut carries x untouched.
        shortcut = x if self.downsample is None else self.downsample(out)
        out = self.conv1(out)
        out = self.conv2(self.relu(self.bn2(out)))
        return out + shortcut  # no ReLU after the addition

    def zero_init_last(self) -> None:
        nn.init.zeros_(self.conv2.weight)


class PreActBottleneck(ResidualBlock):
    """Pre-activation bottleneck (v2): ``(BN -> ReLU -> conv) x 3``, stride on 3x3."""

    expansion: ClassVar[int] = 4
    preact: ClassVar[bool] = True

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        *,
        preact: bool = True,
    ) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes) if preact else None
        self.conv1 = conv1x1(inplanes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn3 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        out = x if self.bn1 is None else self.relu(self.bn1(x))
        shortcut = x if self.downsample is None else self.downsample(out)
        out = self.conv1(out)
        out = self.conv2(self.relu(self.bn2(out)))
        out = self.conv3(self.relu(self.bn3(out)))
        return out + shortcut

    def zero_init_last(self) -> None:
        nn.init.zeros_(self.conv3.weight)


# --8<-- [end:preact-blocks]


# --8<-- [start:resnet]
class ResNet(nn.Module):
    """ImageNet ResNet (paper Table 1) with torchvision's attribute names.

    Args:
        block: the residual unit class (its ``expansion`` and ``preact`` decide
            the widths and the v2 extras).
        layers: number of units in ``layer1..layer4`` (e.g. ``[3, 4, 6, 3]``).
        num_classes: outputs of ``fc``.
        in_channels: input channels (3 for RGB).
        zero_init_residual: start every unit as the identity by zeroing the last
            BN scale of its residual branch (Goyal et al. 2017, arXiv:1706.02677).

    Input ``(N, in_channels, H, W)``, output ``(N, num_classes)``.
    """

    classifier_name: ClassVar[str] = "fc"

    def __init__(
        self,
        block: type[ResidualBlock],
        layers: list[int],
        num_classes: int = 1000,
        *,
        in_channels: int = 3,
        zero_init_residual: bool = False,
    ) -> None:
        super().__init__()
        if len(layers) != 4 or any(n < 1 for n in layers):
            raise ValueError(f"layers must be 4 positive block counts, got {layers}")
        self.inplanes = 64
        # Stem, "conv1" of Table 1: 7x7/2 conv, then 3x3/2 max pool: 224 -> 56.
        self.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        # conv2_x .. conv5_x; the first unit of layer2..4 downsamples (stride 2).
        self.layer1 = self._make_layer(block, 64, layers[0], after_stem=True)
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        num_features = 512 * block.expansion
        # v2 only: the last unit's sum has no BN-ReLU yet; add one before pooling.
        self.norm = nn.BatchNorm2d(num_features) if block.preact else None
        # The paper's 7x7 average pool at 224x224; adaptive (as in torchvision)
        # so that any input size gives one vector per image.
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(num_features, num_classes)
        self.num_features = num_features
        self.feature_info = [
            FeatureInfo("layer1", 64 * block.expansion, 4),
            FeatureInfo("layer2", 128 * block.expansion, 8),
            FeatureInfo("layer3", 256 * block.expansion, 16),
            FeatureInfo("layer4", num_features, 32),
        ]
        init_conv_bn_(self)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, ResidualBlock):
                    m.zero_init_last()

    def _make_layer(
        self,
        block: type[ResidualBlock],
        planes: int,
        blocks: int,
        stride: int = 1,
        *,
        after_stem: bool = False,
    ) -> nn.Sequential:
        """One stage: ``blocks`` units; only the first may change the shape."""
        make = cast(Callable[..., ResidualBlock], block)
        out_channels = planes * block.expansion
        downsample: nn.Module | None = None
        if stride != 1 or self.inplanes != out_channels:
            # Dashed shortcut = the paper's option B: a 1x1 projection, only
            # where the shape changes. v2 feeds it the pre-activated input, so
            # it needs no BN of its own.
            proj = conv1x1(self.inplanes, out_channels, stride)
            bn = [] if block.preact else [nn.BatchNorm2d(out_channels)]
            downsample = nn.Sequential(proj, *bn)
        first_kwargs = {"preact": False} if after_stem and block.preact else {}
        units = [make(self.inplanes, planes, stride, downsample, **first_kwargs)]
        self.inplanes = out_channels
        units += [make(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*units)

    def forward_features(self, x: Tensor) -> Tensor:
        """``(N, C, H, W) -> (N, num_features, H/32, W/32)``."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        if self.norm is not None:
            x = self.relu(self.norm(x))
        return x

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        """Global average pool, then ``fc`` (skipped when ``pre_logits``)."""
        x = torch.flatten(self.avgpool(x), 1)  # (N, num_features)
        return x if pre_logits else self.fc(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))


# --8<-- [end:resnet]


# --8<-- [start:depth-table]
# Paper Table 1: units per stage, and the unit type, for each depth.
DEPTHS: dict[int, tuple[str, list[int]]] = {
    18: ("basic", [2, 2, 2, 2]),
    34: ("basic", [3, 4, 6, 3]),
    50: ("bottleneck", [3, 4, 6, 3]),
    101: ("bottleneck", [3, 4, 23, 3]),
    152: ("bottleneck", [3, 8, 36, 3]),
}
_BLOCKS: dict[tuple[str, str], type[ResidualBlock]] = {
    ("basic", "1"): BasicBlock,  # basic units have no 1x1 conv: v1 == v1.5
    ("basic", "1.5"): BasicBlock,
    ("basic", "2"): PreActBasicBlock,
    ("bottleneck", "1"): BottleneckV1,
    ("bottleneck", "1.5"): Bottleneck,
    ("bottleneck", "2"): PreActBottleneck,
}


def resnet(
    depth: int,
    *,
    version: str = "1.5",
    num_classes: int = 1000,
    in_channels: int = 3,
    zero_init_residual: bool = False,
) -> ResNet:
    """Build the ImageNet ResNet of ``depth`` (18, 34, 50, 101, 152).

    ``version``: "1" (paper, arXiv:1512.03385), "1.5" (torchvision, default) or
    "2" (pre-activation, arXiv:1603.05027).
    """
    if depth not in DEPTHS:
        raise ValueError(f"depth must be one of {sorted(DEPTHS)}, got {depth!r}")
    if version not in VERSIONS:
        raise ValueError(f"version must be one of {VERSIONS}, got {version!r}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    kind, layers = DEPTHS[depth]
    return ResNet(
        _BLOCKS[kind, version],
        layers,
        num_classes,
        in_channels=in_channels,
        zero_init_residual=zero_init_residual,
    )


# --8<-- [end:depth-table]


@register_model(
    family="resnet", data_config=IMAGENET_DATA, train_defaults=TRAIN_DEFAULTS
)
def resnet18(
    *,
    version: str = "1.5",
    num_classes: int = 1000,
    in_channels: int = 3,
    zero_init_residual: bool = False,
) -> ResNet:
    """ResNet-18 (basic units, [2, 2, 2, 2]); ``version`` "1", "1.5" or "2"."""
    return resnet(
        18,
        version=version,
        num_classes=num_classes,
        in_channels=in_channels,
        zero_init_residual=zero_init_residual,
    )


@register_model(
    family="resnet", data_config=IMAGENET_DATA, train_defaults=TRAIN_DEFAULTS
)
def resnet34(
    *,
    version: str = "1.5",
    num_classes: int = 1000,
    in_channels: int = 3,
    zero_init_residual: bool = False,
) -> ResNet:
    """ResNet-34 (basic units, [3, 4, 6, 3]); ``version`` "1", "1.5" or "2"."""
    return resnet(
        34,
        version=version,
        num_classes=num_classes,
        in_channels=in_channels,
        zero_init_residual=zero_init_residual,
    )


@register_model(
    family="resnet", data_config=IMAGENET_DATA, train_defaults=TRAIN_DEFAULTS
)
def resnet50(
    *,
    version: str = "1.5",
    num_classes: int = 1000,
    in_channels: int = 3,
    zero_init_residual: bool = False,
) -> ResNet:
    """ResNet-50 (bottlenecks, [3, 4, 6, 3]); ``version`` "1", "1.5" or "2"."""
    return resnet(
        50,
        version=version,
        num_classes=num_classes,
        in_channels=in_channels,
        zero_init_residual=zero_init_residual,
    )


@register_model(
    family="resnet", data_config=IMAGENET_DATA, train_defaults=TRAIN_DEFAULTS
)
def resnet101(
    *,
    version: str = "1.5",
    num_classes: int = 1000,
    in_channels: int = 3,
    zero_init_residual: bool = False,
) -> ResNet:
    """ResNet-101 (bottlenecks, [3, 4, 23, 3]); ``version`` "1", "1.5" or "2"."""
    return resnet(
        101,
        version=version,
        num_classes=num_classes,
        in_channels=in_channels,
        zero_init_residual=zero_init_residual,
    )


@register_model(
    family="resnet", data_config=IMAGENET_DATA, train_defaults=TRAIN_DEFAULTS
)
def resnet152(
    *,
    version: str = "1.5",
    num_classes: int = 1000,
    in_channels: int = 3,
    zero_init_residual: bool = False,
) -> ResNet:
    """ResNet-152 (bottlenecks, [3, 8, 36, 3]); ``version`` "1", "1.5" or "2"."""
    return resnet(
        152,
        version=version,
        num_classes=num_classes,
        in_channels=in_channels,
        zero_init_residual=zero_init_residual,
    )


@register_model(
    family="resnet", data_config=IMAGENET_DATA, train_defaults=TRAIN_DEFAULTS
)
def resnet18_v1(
    *, num_classes: int = 1000, in_channels: int = 3, zero_init_residual: bool = False
) -> ResNet:
    """ResNet-18 v1 (same network as v1.5: basic units have no 1x1 conv)."""
    return resnet(
        18,
        version="1",
        num_classes=num_classes,
        in_channels=in_channels,
        zero_init_residual=zero_init_residual,
    )


@register_model(
    family="resnet", data_config=IMAGENET_DATA, train_defaults=TRAIN_DEFAULTS
)
def resnet18_v2(
    *, num_classes: int = 1000, in_channels: int = 3, zero_init_residual: bool = False
) -> ResNet:
    """ResNet-18 v2, pre-activation units (arXiv:1603.05027)."""
    return resnet(
        18,
        version="2",
        num_classes=num_classes,
        in_channels=in_channels,
        zero_init_residual=zero_init_residual,
    )


@register_model(
    family="resnet", data_config=IMAGENET_DATA, train_defaults=TRAIN_DEFAULTS
)
def resnet34_v1(
    *, num_classes: int = 1000, in_channels: int = 3, zero_init_residual: bool = False
) -> ResNet:
    """ResNet-34 v1 (same network as v1.5: basic units have no 1x1 conv)."""
    return resnet(
        34,
        version="1",
        num_classes=num_classes,
        in_channels=in_channels,
        zero_init_residual=zero_init_residual,
    )


@register_model(
    family="resnet", data_config=IMAGENET_DATA, train_defaults=TRAIN_DEFAULTS
)
def resnet34_v2(
    *, num_classes: int = 1000, in_channels: int = 3, zero_init_residual: bool = False
) -> ResNet:
    """ResNet-34 v2, pre-activation units (arXiv:1603.05027)."""
    return resnet(
        34,
        version="2",
        num_classes=num_classes,
        in_channels=in_channels,
        zero_init_residual=zero_init_residual,
    )


@register_model(
    family="resnet", data_config=IMAGENET_DATA, train_defaults=TRAIN_DEFAULTS
)
def resnet50_v1(
    *, num_classes: int = 1000, in_channels: int = 3, zero_init_residual: bool = False
) -> ResNet:
    """ResNet-50 v1, the paper: stride on the first 1x1 conv of a bottleneck."""
    return resnet(
        50,
        version="1",
        num_classes=num_classes,
        in_channels=in_channels,
        zero_init_residual=zero_init_residual,
    )


@register_model(
    family="resnet", data_config=IMAGENET_DATA, train_defaults=TRAIN_DEFAULTS
)
def resnet50_v2(
    *, num_classes: int = 1000, in_channels: int = 3, zero_init_residual: bool = False
) -> ResNet:
    """ResNet-50 v2, pre-activation units (arXiv:1603.05027)."""
    return resnet(
        50,
        version="2",
        num_classes=num_classes,
        in_channels=in_channels,
        zero_init_residual=zero_init_residual,
    )


@register_model(
    family="resnet", data_config=IMAGENET_DATA, train_defaults=TRAIN_DEFAULTS
)
def resnet101_v1(
    *, num_classes: int = 1000, in_channels: int = 3, zero_init_residual: bool = False
) -> ResNet:
    """ResNet-101 v1, the paper: stride on the first 1x1 conv of a bottleneck."""
    return resnet(
        101,
        version="1",
        num_classes=num_classes,
        in_channels=in_channels,
        zero_init_residual=zero_init_residual,
    )


@register_model(
    family="resnet", data_config=IMAGENET_DATA, train_defaults=TRAIN_DEFAULTS
)
def resnet101_v2(
    *, num_classes: int = 1000, in_channels: int = 3, zero_init_residual: bool = False
) -> ResNet:
    """ResNet-101 v2, pre-activation units (arXiv:1603.05027)."""
    return resnet(
        101,
        version="2",
        num_classes=num_classes,
        in_channels=in_channels,
        zero_init_residual=zero_init_residual,
    )


@register_model(
    family="resnet", data_config=IMAGENET_DATA, train_defaults=TRAIN_DEFAULTS
)
def resnet152_v1(
    *, num_classes: int = 1000, in_channels: int = 3, zero_init_residual: bool = False
) -> ResNet:
    """ResNet-152 v1, the paper: stride on the first 1x1 conv of a bottleneck."""
    return resnet(
        152,
        version="1",
        num_classes=num_classes,
        in_channels=in_channels,
        zero_init_residual=zero_init_residual,
    )


@register_model(
    family="resnet", data_config=IMAGENET_DATA, train_defaults=TRAIN_DEFAULTS
)
def resnet152_v2(
    *, num_classes: int = 1000, in_channels: int = 3, zero_init_residual: bool = False
) -> ResNet:
    """ResNet-152 v2, pre-activation units (arXiv:1603.05027)."""
    return resnet(
        152,
        version="2",
        num_classes=num_classes,
        in_channels=in_channels,
        zero_init_residual=zero_init_residual,
    )
