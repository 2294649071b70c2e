"""DenseNet-121/161/169/201 with torchvision's layout and parameter names.

Huang, Liu, van der Maaten, Weinberger 2016, "Densely Connected Convolutional
Networks", arXiv:1608.06993, Table 1 (DenseNet-BC: bottleneck layers and
compression 0.5). Inside a dense block every layer receives the concatenation
of the block input and all earlier layers' outputs, and adds ``growth_rate``
new channels: a block of ``L`` layers turns ``C`` channels into
``C + L * growth_rate``. Transition layers between blocks halve the channels
(1x1 conv) and the size (2x2 average pool).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dlnotes.models._common import FeatureInfo
from dlnotes.models.registry import IMAGENET_DATA, register_model

__all__ = [
    "CONFIGS",
    "DenseBlock",
    "DenseLayer",
    "DenseNet",
    "Transition",
    "densenet121",
    "densenet161",
    "densenet169",
    "densenet201",
]

# --8<-- [start:densenet-configs]
# Table 1: (growth rate k, layers per dense block, channels after the stem).
CONFIGS: dict[int, tuple[int, tuple[int, int, int, int], int]] = {
    121: (32, (6, 12, 24, 16), 64),
    161: (48, (6, 12, 36, 24), 96),
    169: (32, (6, 12, 32, 32), 64),
    201: (32, (6, 12, 48, 32), 64),
}
# --8<-- [end:densenet-configs]


# --8<-- [start:dense-block]
class DenseLayer(nn.Module):
    """BN-ReLU-1x1 conv (``bn_size * growth_rate`` channels) - BN-ReLU-3x3 conv.

    ``(N, C, H, W) -> (N, growth_rate, H, W)``: only the *new* channels; the
    block concatenates them to what came before. The 1x1 "bottleneck" keeps
    the 3x3 conv cheap however wide the concatenated input grows ("-B").
    """

    def __init__(
        self, in_channels: int, growth_rate: int, bn_size: int, drop_rate: float
    ) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(in_channels)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(
            in_channels, bn_size * growth_rate, kernel_size=1, bias=False
        )
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(
            bn_size * growth_rate, growth_rate, kernel_size=3, padding=1, bias=False
        )
        self.drop_rate = drop_rate

    def forward(self, features: list[Tensor]) -> Tensor:
        x = torch.cat(features, dim=1)  # every earlier output, side by side
        x = self.conv1(self.relu1(self.norm1(x)))
        x = self.conv2(self.relu2(self.norm2(x)))
        return F.dropout(x, p=self.drop_rate, training=self.training)


class DenseBlock(nn.ModuleDict):
    """``num_layers`` dense layers: ``(N, C, H, W) -> (N, C + L*k, H, W)``."""

    def __init__(
        self,
        num_layers: int,
        in_channels: int,
        growth_rate: int,
        bn_size: int,
        drop_rate: float,
    ) -> None:
        super().__init__()
        for i in range(num_layers):
            layer = DenseLayer(
                in_channels + i * growth_rate, growth_rate, bn_size, drop_rate
            )
            self.add_module(f"denselayer{i + 1}", layer)

    def forward(self, x: Tensor) -> Tensor:
        features = [x]
        for layer in self.values():
            features.append(layer(features))  # layer l sees x_0 ... x_{l-1}
        return torch.cat(features, dim=1)


class Transition(nn.Sequential):
    """BN-ReLU-1x1 conv to ``out_channels`` (compression), then 2x2 avg pool."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(in_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)


# --8<-- [end:dense-block]


# --8<-- [start:densenet]
class DenseNet(nn.Module):
    """DenseNet-BC for ImageNet: ``(N, 3, 224, 224) -> (N, num_classes)``.

    Stem (7x7/2 conv, 3x3/2 max pool: 224 -> 56), four dense blocks with
    transitions (56 -> 28 -> 14 -> 7), BN-ReLU, global average pool, ``classifier``.
    """

    classifier_name: ClassVar[str] = "classifier"

    def __init__(
        self,
        growth_rate: int = 32,
        block_config: tuple[int, ...] = (6, 12, 24, 16),
        num_init_features: int = 64,
        *,
        bn_size: int = 4,
        drop_rate: float = 0.0,
        num_classes: int = 1000,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        if not 0.0 <= drop_rate < 1.0:
            raise ValueError(f"drop_rate must be in [0, 1), got {drop_rate}")
        stem = nn.Conv2d(
            in_channels, num_init_features, 7, stride=2, padding=3, bias=False
        )
        layers: OrderedDict[str, nn.Module] = OrderedDict(
            conv0=stem,
            norm0=nn.BatchNorm2d(num_init_features),
            relu0=nn.ReLU(inplace=True),
            pool0=nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        )
        channels, reduction = num_init_features, 4
        self.feature_info: list[FeatureInfo] = []
        for i, num_layers in enumerate(block_config, start=1):
            layers[f"denseblock{i}"] = DenseBlock(
                num_layers, channels, growth_rate, bn_size, drop_rate
            )
            channels += num_layers * growth_rate  # C + L*k
            if i < len(block_config):
                self.feature_info.append(
                    FeatureInfo(f"features.denseblock{i}", channels, reduction)
                )
                layers[f"transition{i}"] = Transition(channels, channels // 2)
                channels //= 2  # compression 0.5
                reduction *= 2
        layers["norm5"] = nn.BatchNorm2d(channels)
        self.feature_info.append(FeatureInfo("features.norm5", channels, reduction))
        self.features = nn.Sequential(layers)
        self.classifier = nn.Linear(channels, num_classes)
        self.num_features = channels
        for m in self.modules():  # torchvision's init
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward_features(self, x: Tensor) -> Tensor:
        """``(N, C, 224, 224) -> (N, num_features, 7, 7)`` (before the last ReLU)."""
        return self.features(x)

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        x = F.adaptive_avg_pool2d(F.relu(x), (1, 1))
        x = torch.flatten(x, 1)  # (N, num_features)
        return x if pre_logits else self.classifier(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))


# --8<-- [end:densenet]


def _densenet(
    depth: int, num_classes: int, in_channels: int, drop_rate: float
) -> DenseNet:
    growth_rate, blocks, init = CONFIGS[depth]
    return DenseNet(
        growth_rate,
        blocks,
        init,
        drop_rate=drop_rate,
        num_classes=num_classes,
        in_channels=in_channels,
    )


_TRAIN_DEFAULTS = {"lr": 0.05, "batch_size": 32}
"""``dlnotes train`` settings for digits: DenseNet-121 reaches 93.3 % test accuracy
after two epochs."""


@register_model(
    family="densenet", data_config=IMAGENET_DATA, train_defaults=_TRAIN_DEFAULTS
)
def densenet121(
    *, num_classes: int = 1000, in_channels: int = 3, drop_rate: float = 0.0
) -> DenseNet:
    """DenseNet-121 (k = 32, blocks 6-12-24-16), torchvision's layout."""
    return _densenet(121, num_classes, in_channels, drop_rate)


@register_model(
    family="densenet", data_config=IMAGENET_DATA, train_defaults=_TRAIN_DEFAULTS
)
def densenet161(
    *, num_classes: int = 1000, in_channels: int = 3, drop_rate: float = 0.0
) -> DenseNet:
    """DenseNet-161 (k = 48, blocks 6-12-36-24), torchvision's layout."""
    return _densenet(161, num_classes, in_channels, drop_rate)


@register_model(
    family="densenet", data_config=IMAGENET_DATA, train_defaults=_TRAIN_DEFAULTS
)
def densenet169(
    *, num_classes: int = 1000, in_channels: int = 3, drop_rate: float = 0.0
) -> DenseNet:
    """DenseNet-169 (k = 32, blocks 6-12-32-32), torchvision's layout."""
    return _densenet(169, num_classes, in_channels, drop_rate)


@register_model(
    family="densenet", data_config=IMAGENET_DATA, train_defaults=_TRAIN_DEFAULTS
)
def densenet201(
    *, num_classes: int = 1000, in_channels: int = 3, drop_rate: float = 0.0
) -> DenseNet:
    """DenseNet-201 (k = 32, blocks 6-12-48-32), torchvision's layout."""
    return _densenet(201, num_classes, in_channels, drop_rate)
