"""VGG 11/13/16/19, with and without batch normalization.

Simonyan, Zisserman 2014, "Very Deep Convolutional Networks for Large-Scale Image
Recognition", arXiv:1409.1556, Table 1 (configurations A, B, D, E). Attribute
names (``features``, ``avgpool``, ``classifier``) follow torchvision, so the
state_dict keys of the 224x224 models are interchangeable with its ``vgg*``.

Every convolution is 3x3 with padding 1 (keeps the size); each of the five
stages ends with a 2x2 max pool with stride 2: the feature map is
``input_size / 32``.
For small images (``input_size=32``) the classifier reads a 1x1x512 map.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from dlnotes.models._common import FeatureInfo, init_conv_bn_
from dlnotes.models.registry import IMAGENET_DATA, register_model

__all__ = [
    "CONFIGS",
    "TRAIN_DEFAULTS",
    "TRAIN_DEFAULTS_BN",
    "VGG",
    "vgg",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "vgg19_bn",
]

TRAIN_DEFAULTS: dict[str, Any] = {"lr": 0.01, "batch_size": 32}
"""``dlnotes train`` settings for VGG without BN on digits (the paper's lr 0.01)."""
TRAIN_DEFAULTS_BN: dict[str, Any] = {"lr": 0.05, "batch_size": 32}
"""``dlnotes train`` settings for VGG with BN on digits: VGG-11-BN reaches 92.8 %
test accuracy after two epochs."""

# --8<-- [start:vgg-configs]
# Paper Table 1 (configurations A, B, D, E): the 3x3 conv widths of each of the
# five stages; every stage ends with a 2x2 max pool ("maxpool" rows).
CONFIGS: dict[int, list[list[int]]] = {
    11: [[64], [128], [256, 256], [512, 512], [512, 512]],
    13: [[64, 64], [128, 128], [256, 256], [512, 512], [512, 512]],
    16: [[64, 64], [128, 128], [256] * 3, [512] * 3, [512] * 3],
    19: [[64, 64], [128, 128], [256] * 4, [512] * 4, [512] * 4],
}
# --8<-- [end:vgg-configs]


# --8<-- [start:vgg-layers]
def make_layers(
    cfg: list[list[int]], batch_norm: bool, in_channels: int
) -> tuple[nn.Sequential, list[FeatureInfo]]:
    """The convolutional part (torchvision's flat ``features`` Sequential) and
    where each stage ends (its max pool)."""
    layers: list[nn.Module] = []
    info: list[FeatureInfo] = []
    channels, reduction = in_channels, 1
    for stage in cfg:
        for width in stage:  # 3x3 conv, padding 1: the size is kept
            layers.append(nn.Conv2d(channels, width, kernel_size=3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.ReLU(inplace=True))
            channels = width
        layers.append(nn.MaxPool2d(kernel_size=2, stride=2))  # halves the size
        reduction *= 2
        info.append(FeatureInfo(f"features.{len(layers) - 1}", channels, reduction))
    return nn.Sequential(*layers), info


# --8<-- [end:vgg-layers]


class VGG(nn.Module):
    """VGG: stacks of 3x3 convs and max pools, then three fully connected layers.

    Args:
        cfg: conv widths per stage (see ``CONFIGS``).
        batch_norm: BN after every convolution (not in the paper; torchvision's
            ``vgg*_bn``).
        num_classes: outputs of the last layer.
        in_channels: input channels.
        input_size: side of the square input, a multiple of 32 (224 for ImageNet,
            32 for CIFAR-sized images): the classifier reads
            ``512 * (input_size/32)**2`` features (512: the last conv's width).
        hidden_features: width of the two hidden fully connected layers (4096).
        dropout: dropout probability after each hidden layer.

    Input ``(N, in_channels, input_size, input_size)``, output ``(N, num_classes)``.
    """

    classifier_name: ClassVar[str] = "classifier.6"

    def __init__(
        self,
        cfg: list[list[int]],
        *,
        batch_norm: bool = False,
        num_classes: int = 1000,
        in_channels: int = 3,
        input_size: int = 224,
        hidden_features: int = 4096,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        if input_size < 32 or input_size % 32 != 0:
            raise ValueError(f"input_size must be a multiple of 32, got {input_size}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.features, self.feature_info = make_layers(cfg, batch_norm, in_channels)
        side = input_size // 32
        # Adaptive pooling to the size the classifier expects: a no-op at the
        # nominal input size, and it lets other sizes through (as torchvision).
        self.avgpool = nn.AdaptiveAvgPool2d((side, side))
        self.num_features = cfg[-1][-1] * side * side  # 512 * side**2 in VGG
        self.classifier = nn.Sequential(
            nn.Linear(self.num_features, hidden_features),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden_features, hidden_features),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden_features, num_classes),
        )
        init_conv_bn_(self)
        for m in self.classifier.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)

    def forward_features(self, x: Tensor) -> Tensor:
        """``(N, C, S, S) -> (N, 512, S/32, S/32)``."""
        return self.features(x)

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        """Pool to the expected size, flatten, and run the classifier.

        ``pre_logits`` returns the 2nd hidden layer's activations (``hidden_features``).
        """
        x = torch.flatten(self.avgpool(x), 1)  # (N, num_features)
        return self.classifier[:-1](x) if pre_logits else self.classifier(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))


def vgg(
    depth: int,
    *,
    batch_norm: bool = False,
    num_classes: int = 1000,
    in_channels: int = 3,
    input_size: int = 224,
    hidden_features: int = 4096,
    dropout: float = 0.5,
) -> VGG:
    """VGG-``depth`` (11, 13, 16 or 19 weight layers)."""
    if depth not in CONFIGS:
        raise ValueError(f"depth must be one of {sorted(CONFIGS)}, got {depth!r}")
    return VGG(
        CONFIGS[depth],
        batch_norm=batch_norm,
        num_classes=num_classes,
        in_channels=in_channels,
        input_size=input_size,
        hidden_features=hidden_features,
        dropout=dropout,
    )


@register_model(family="vgg", data_config=IMAGENET_DATA, train_defaults=TRAIN_DEFAULTS)
def vgg11(
    *,
    num_classes: int = 1000,
    in_channels: int = 3,
    input_size: int = 224,
    hidden_features: int = 4096,
    dropout: float = 0.5,
) -> VGG:
    """VGG-11 (configuration A)."""
    return vgg(
        11,
        batch_norm=False,
        num_classes=num_classes,
        in_channels=in_channels,
        input_size=input_size,
        hidden_features=hidden_features,
        dropout=dropout,
    )


@register_model(
    family="vgg", data_config=IMAGENET_DATA, train_defaults=TRAIN_DEFAULTS_BN
)
def vgg11_bn(
    *,
    num_classes: int = 1000,
    in_channels: int = 3,
    input_size: int = 224,
    hidden_features: int = 4096,
    dropout: float = 0.5,
) -> VGG:
    """VGG-11 (configuration A) with batch normalization."""
    return vgg(
        11,
        batch_norm=True,
        num_classes=num_classes,
        in_channels=in_channels,
        input_size=input_size,
        hidden_features=hidden_features,
        dropout=dropout,
    )


@register_model(family="vgg", data_config=IMAGENET_DATA, train_defaults=TRAIN_DEFAULTS)
def vgg13(
    *,
    num_classes: int = 1000,
    in_channels: int = 3,
    input_size: int = 224,
    hidden_features: int = 4096,
    dropout: float = 0.5,
) -> VGG:
    """VGG-13 (configuration B)."""
    return vgg(
        13,
        batch_norm=False,
        num_classes=num_classes,
        in_channels=in_channels,
        input_size=input_size,
        hidden_features=hidden_features,
        dropout=dropout,
    )


@register_model(
    family="vgg", data_config=IMAGENET_DATA, train_defaults=TRAIN_DEFAULTS_BN
)
def vgg13_bn(
    *,
    num_classes: int = 1000,
    in_channels: int = 3,
    input_size: int = 224,
    hidden_features: int = 4096,
    dropout: float = 0.5,
) -> VGG:
    """VGG-13 (configuration B) with batch normalization."""
    return vgg(
        13,
        batch_norm=True,
        num_classes=num_classes,
        in_channels=in_channels,
        input_size=input_size,
        hidden_features=hidden_features,
        dropout=dropout,
    )


@register_model(family="vgg", data_config=IMAGENET_DATA, train_defaults=TRAIN_DEFAULTS)
def vgg16(
    *,
    num_classes: int = 1000,
    in_channels: int = 3,
    input_size: int = 224,
    hidden_features: int = 4096,
    dropout: float = 0.5,
) -> VGG:
    """VGG-16 (configuration D)."""
    return vgg(
        16,
        batch_norm=False,
        num_classes=num_classes,
        in_channels=in_channels,
        input_size=input_size,
        hidden_features=hidden_features,
        dropout=dropout,
    )


@register_model(
    family="vgg", data_config=IMAGENET_DATA, train_defaults=TRAIN_DEFAULTS_BN
)
def vgg16_bn(
    *,
    num_classes: int = 1000,
    in_channels: int = 3,
    input_size: int = 224,
    hidden_features: int = 4096,
    dropout: float = 0.5,
) -> VGG:
    """VGG-16 (configuration D) with batch normalization."""
    return vgg(
        16,
        batch_norm=True,
        num_classes=num_classes,
        in_channels=in_channels,
        input_size=input_size,
        hidden_features=hidden_features,
        dropout=dropout,
    )


@register_model(family="vgg", data_config=IMAGENET_DATA, train_defaults=TRAIN_DEFAULTS)
def vgg19(
    *,
    num_classes: int = 1000,
    in_channels: int = 3,
    input_size: int = 224,
    hidden_features: int = 4096,
    dropout: float = 0.5,
) -> VGG:
    """VGG-19 (configuration E)."""
    return vgg(
        19,
        batch_norm=False,
        num_classes=num_classes,
        in_channels=in_channels,
        input_size=input_size,
        hidden_features=hidden_features,
        dropout=dropout,
    )


@register_model(
    family="vgg", data_config=IMAGENET_DATA, train_defaults=TRAIN_DEFAULTS_BN
)
def vgg19_bn(
    *,
    num_classes: int = 1000,
    in_channels: int = 3,
    input_size: int = 224,
    hidden_features: int = 4096,
    dropout: float = 0.5,
) -> VGG:
    """VGG-19 (configuration E) with batch normalization."""
    return vgg(
        19,
        batch_norm=True,
        num_classes=num_classes,
        in_channels=in_channels,
        input_size=input_size,
        hidden_features=hidden_features,
        dropout=dropout,
    )
