"""CIFAR-10 ResNets and plain networks of the ResNet paper, section 4.2.

He, Zhang, Ren, Sun 2015, "Deep Residual Learning for Image Recognition",
arXiv:1512.03385. The network is ``6n + 2`` layers deep: a 3x3 conv with 16
filters, three stages of ``n`` basic units (``2n`` 3x3 convs each) on 32x32,
16x16 and 8x8 maps with 16, 32 and 64 filters, global average pooling and a
10-way fully connected layer. Depths in the paper: 20, 32, 44, 56, 110, 1202.

Shortcut options (paper section 3.3 and Table 3):

* ``"A"``: identity everywhere; where the shape changes, subsample with stride 2
  and pad the extra channels with zeros (no parameters). The paper's CIFAR nets.
* ``"B"``: identity, but a 1x1 projection (conv + BN) where the shape changes.
* ``"C"``: a 1x1 projection on every shortcut.
* ``None``: no shortcut at all: the *plain* network with the same layers.

Input ``(N, 3, 32, 32)`` -> ``layer1 (N, 16, 32, 32)``, ``layer2 (N, 32, 16, 16)``,
``layer3 (N, 64, 8, 8)`` -> ``(N, num_classes)``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dlnotes.models._common import FeatureInfo, init_conv_bn_
from dlnotes.models.registry import CIFAR10_DATA, register_model

__all__ = [
    "PAPER_DEPTHS",
    "SHORTCUTS",
    "TRAIN_DEFAULTS",
    "CifarBasicBlock",
    "CifarResNet",
    "ZeroPadShortcut",
    "cifar_plain",
    "cifar_plain20",
    "cifar_plain32",
    "cifar_plain44",
    "cifar_plain56",
    "cifar_plain110",
    "cifar_resnet",
    "cifar_resnet20",
    "cifar_resnet32",
    "cifar_resnet44",
    "cifar_resnet56",
    "cifar_resnet110",
    "cifar_resnet1202",
]

PAPER_DEPTHS = (20, 32, 44, 56, 110, 1202)
SHORTCUTS = ("A", "B", "C", None)

TRAIN_DEFAULTS: dict[str, Any] = {"lr": 0.1}
"""``dlnotes train`` settings: the paper's SGD (lr 0.1, batch 128) learns digits."""


# --8<-- [start:option-a]
class ZeroPadShortcut(nn.Module):
    """Option A: identity with stride-``stride`` subsampling and zero padding.

    ``(N, in_channels, H, W) -> (N, out_channels, H/stride, W/stride)``; the new
    channels are zeros. It has no parameters, so options A and the plain
    network have exactly the same parameter count.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        if out_channels < in_channels:
            raise ValueError(
                f"out_channels must be >= in_channels, got {out_channels} < "
                f"{in_channels}"
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        x = x[:, :, :: self.stride, :: self.stride]  # (N, C_in, H/s, W/s)
        extra = self.out_channels - self.in_channels
        return F.pad(x, (0, 0, 0, 0, 0, extra))  # zeros after the C_in channels


# --8<-- [end:option-a]


def _projection(
    in_channels: int, out_channels: int, stride: int, bn: bool
) -> nn.Module:
    conv = nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=not bn)
    return nn.Sequential(conv, nn.BatchNorm2d(out_channels)) if bn else conv


# --8<-- [start:cifar-block]
class CifarBasicBlock(nn.Module):
    """Two 3x3 convolutions, with or without a shortcut (options A/B/C/None).

    ``(N, in_channels, H, W) -> (N, out_channels, H/stride, W/stride)``.
    ``batch_norm=False`` drops every BN (the convolutions then get a bias).
    """

    expansion: ClassVar[int] = 1

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        shortcut: str | None = "A",
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        bias = not batch_norm
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=bias)
        self.bn1 = nn.BatchNorm2d(out_channels) if batch_norm else nn.Identity()
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=bias)
        self.bn2 = nn.BatchNorm2d(out_channels) if batch_norm else nn.Identity()
        reshape = stride != 1 or in_channels != out_channels
        self.residual = shortcut is not None
        self.downsample: nn.Module | None = None  # None: identity (or plain)
        if shortcut == "C" or (shortcut == "B" and reshape):
            self.downsample = _projection(in_channels, out_channels, stride, batch_norm)
        elif shortcut == "A" and reshape:
            self.downsample = ZeroPadShortcut(in_channels, out_channels, stride)

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.residual:  # plain network: no addition at all
            out = out + (x if self.downsample is None else self.downsample(x))
        return self.relu(out)


# --8<-- [end:cifar-block]


# --8<-- [start:cifar-resnet]
class CifarResNet(nn.Module):
    """The ``6n + 2``-layer CIFAR network of the paper's section 4.2.

    Args:
        depth: ``6n + 2`` (20, 32, 44, 56, 110, 1202 in the paper).
        shortcut: "A", "B", "C" (see the module docstring) or None (plain net).
        batch_norm: BN after every convolution (the paper: yes).
        num_classes: outputs of ``fc``.
        in_channels: input channels.
    """

    classifier_name: ClassVar[str] = "fc"

    def __init__(
        self,
        depth: int = 20,
        *,
        shortcut: str | None = "A",
        batch_norm: bool = True,
        num_classes: int = 10,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        if not isinstance(depth, int) or depth < 8 or (depth - 2) % 6 != 0:
            raise ValueError(
                f"depth must be 6n+2 with n >= 1 (paper: {PAPER_DEPTHS}), got {depth!r}"
            )
        if shortcut not in SHORTCUTS:
            raise ValueError(f"shortcut must be one of {SHORTCUTS}, got {shortcut!r}")
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        n = (depth - 2) // 6
        self.depth, self.shortcut = depth, shortcut
        bias = not batch_norm
        self.conv1 = nn.Conv2d(in_channels, 16, 3, padding=1, bias=bias)
        self.bn1 = nn.BatchNorm2d(16) if batch_norm else nn.Identity()
        self.relu = nn.ReLU(inplace=True)
        stages = []
        in_ch = 16
        for out_ch, stride in ((16, 1), (32, 2), (64, 2)):  # 32x32, 16x16, 8x8
            units = [CifarBasicBlock(in_ch, out_ch, stride, shortcut, batch_norm)]
            units += [
                CifarBasicBlock(out_ch, out_ch, 1, shortcut, batch_norm)
                for _ in range(n - 1)
            ]
            stages.append(nn.Sequential(*units))
            in_ch = out_ch
        self.layer1, self.layer2, self.layer3 = stages
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(64, num_classes)
        self.num_features = 64
        self.feature_info = [
            FeatureInfo("layer1", 16, 1),
            FeatureInfo("layer2", 32, 2),
            FeatureInfo("layer3", 64, 4),
        ]
        init_conv_bn_(self)

    def forward_features(self, x: Tensor) -> Tensor:
        """``(N, C, 32, 32) -> (N, 64, 8, 8)``."""
        x = self.relu(self.bn1(self.conv1(x)))
        return self.layer3(self.layer2(self.layer1(x)))

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        x = torch.flatten(self.avgpool(x), 1)  # (N, 64)
        return x if pre_logits else self.fc(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))


# --8<-- [end:cifar-resnet]


def cifar_resnet(
    depth: int = 20,
    *,
    shortcut: str = "A",
    batch_norm: bool = True,
    num_classes: int = 10,
    in_channels: int = 3,
) -> CifarResNet:
    """CIFAR ResNet of ``depth`` = 6n+2 with shortcut option "A", "B" or "C"."""
    if shortcut not in ("A", "B", "C"):
        raise ValueError(
            f"shortcut must be one of ('A', 'B', 'C'), got {shortcut!r} "
            "(use cifar_plain for no shortcuts)"
        )
    return CifarResNet(
        depth,
        shortcut=shortcut,
        batch_norm=batch_norm,
        num_classes=num_classes,
        in_channels=in_channels,
    )


def cifar_plain(
    depth: int = 20,
    *,
    batch_norm: bool = True,
    num_classes: int = 10,
    in_channels: int = 3,
) -> CifarResNet:
    """The plain CIFAR network of ``depth``: same layers, no shortcuts (Fig. 6)."""
    return CifarResNet(
        depth,
        shortcut=None,
        batch_norm=batch_norm,
        num_classes=num_classes,
        in_channels=in_channels,
    )


@register_model(family="cifar", data_config=CIFAR10_DATA, train_defaults=TRAIN_DEFAULTS)
def cifar_resnet20(
    *,
    shortcut: str = "A",
    batch_norm: bool = True,
    num_classes: int = 10,
    in_channels: int = 3,
) -> CifarResNet:
    """CIFAR ResNet-20 (n = 3); ``shortcut`` "A", "B" or "C"."""
    return cifar_resnet(
        20,
        shortcut=shortcut,
        batch_norm=batch_norm,
        num_classes=num_classes,
        in_channels=in_channels,
    )


@register_model(family="cifar", data_config=CIFAR10_DATA, train_defaults=TRAIN_DEFAULTS)
def cifar_resnet32(
    *,
    shortcut: str = "A",
    batch_norm: bool = True,
    num_classes: int = 10,
    in_channels: int = 3,
) -> CifarResNet:
    """CIFAR ResNet-32 (n = 5); ``shortcut`` "A", "B" or "C"."""
    return cifar_resnet(
        32,
        shortcut=shortcut,
        batch_norm=batch_norm,
        num_classes=num_classes,
        in_channels=in_channels,
    )


@register_model(family="cifar", data_config=CIFAR10_DATA, train_defaults=TRAIN_DEFAULTS)
def cifar_resnet44(
    *,
    shortcut: str = "A",
    batch_norm: bool = True,
    num_classes: int = 10,
    in_channels: int = 3,
) -> CifarResNet:
    """CIFAR ResNet-44 (n = 7); ``shortcut`` "A", "B" or "C"."""
    return cifar_resnet(
        44,
        shortcut=shortcut,
        batch_norm=batch_norm,
        num_classes=num_classes,
        in_channels=in_channels,
    )


@register_model(family="cifar", data_config=CIFAR10_DATA, train_defaults=TRAIN_DEFAULTS)
def cifar_resnet56(
    *,
    shortcut: str = "A",
    batch_norm: bool = True,
    num_classes: int = 10,
    in_channels: int = 3,
) -> CifarResNet:
    """CIFAR ResNet-56 (n = 9); ``shortcut`` "A", "B" or "C"."""
    return cifar_resnet(
        56,
        shortcut=shortcut,
        batch_norm=batch_norm,
        num_classes=num_classes,
        in_channels=in_channels,
    )


@register_model(family="cifar", data_config=CIFAR10_DATA, train_defaults=TRAIN_DEFAULTS)
def cifar_resnet110(
    *,
    shortcut: str = "A",
    batch_norm: bool = True,
    num_classes: int = 10,
    in_channels: int = 3,
) -> CifarResNet:
    """CIFAR ResNet-110 (n = 18); ``shortcut`` "A", "B" or "C"."""
    return cifar_resnet(
        110,
        shortcut=shortcut,
        batch_norm=batch_norm,
        num_classes=num_classes,
        in_channels=in_channels,
    )


@register_model(family="cifar", data_config=CIFAR10_DATA, train_defaults=TRAIN_DEFAULTS)
def cifar_resnet1202(
    *,
    shortcut: str = "A",
    batch_norm: bool = True,
    num_classes: int = 10,
    in_channels: int = 3,
) -> CifarResNet:
    """CIFAR ResNet-1202 (n = 200); ``shortcut`` "A", "B" or "C"."""
    return cifar_resnet(
        1202,
        shortcut=shortcut,
        batch_norm=batch_norm,
        num_classes=num_classes,
        in_channels=in_channels,
    )


@register_model(family="cifar", data_config=CIFAR10_DATA, train_defaults=TRAIN_DEFAULTS)
def cifar_plain20(
    *, batch_norm: bool = True, num_classes: int = 10, in_channels: int = 3
) -> CifarResNet:
    """CIFAR plain-20 (n = 3): the same layers without shortcuts."""
    return cifar_plain(
        20, batch_norm=batch_norm, num_classes=num_classes, in_channels=in_channels
    )


@register_model(family="cifar", data_config=CIFAR10_DATA, train_defaults=TRAIN_DEFAULTS)
def cifar_plain32(
    *, batch_norm: bool = True, num_classes: int = 10, in_channels: int = 3
) -> CifarResNet:
    """CIFAR plain-32 (n = 5): the same layers without shortcuts."""
    return cifar_plain(
        32, batch_norm=batch_norm, num_classes=num_classes, in_channels=in_channels
    )


@register_model(family="cifar", data_config=CIFAR10_DATA, train_defaults=TRAIN_DEFAULTS)
def cifar_plain44(
    *, batch_norm: bool = True, num_classes: int = 10, in_channels: int = 3
) -> CifarResNet:
    """CIFAR plain-44 (n = 7): the same layers without shortcuts."""
    return cifar_plain(
        44, batch_norm=batch_norm, num_classes=num_classes, in_channels=in_channels
    )


@register_model(family="cifar", data_config=CIFAR10_DATA, train_defaults=TRAIN_DEFAULTS)
def cifar_plain56(
    *, batch_norm: bool = True, num_classes: int = 10, in_channels: int = 3
) -> CifarResNet:
    """CIFAR plain-56 (n = 9): the same layers without shortcuts."""
    return cifar_plain(
        56, batch_norm=batch_norm, num_classes=num_classes, in_channels=in_channels
    )


@register_model(family="cifar", data_config=CIFAR10_DATA, train_defaults=TRAIN_DEFAULTS)
def cifar_plain110(
    *, batch_norm: bool = True, num_classes: int = 10, in_channels: int = 3
) -> CifarResNet:
    """CIFAR plain-110 (n = 18): the same layers without shortcuts."""
    return cifar_plain(
        110, batch_norm=batch_norm, num_classes=num_classes, in_channels=in_channels
    )
