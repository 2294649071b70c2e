"""The classic CNNs before VGG: LeNet-5, AlexNet and Network in Network.

* LeNet-5: LeCun, Bottou, Bengio, Haffner 1998, "Gradient-Based Learning Applied
  to Document Recognition", Fig. 2 (layers C1, S2, C3, S4, C5, F6, output).
* AlexNet: Krizhevsky, Sutskever, Hinton 2012, "ImageNet Classification with Deep
  Convolutional Neural Networks", as torchvision builds it (the single-GPU
  variant of Krizhevsky 2014, arXiv:1404.5997): same names, same parameters.
* NiN: Lin, Chen, Yan 2013, "Network In Network", arXiv:1312.4400: "mlpconv"
  blocks (a conv followed by two 1x1 convs) and global average pooling instead
  of fully connected layers; the ImageNet layout of its released Caffe model.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import ClassVar

import torch
from torch import Tensor, nn

from dlnotes.models._common import FeatureInfo, init_conv_bn_
from dlnotes.models.registry import (
    DIGITS_DATA,
    IMAGENET_DATA,
    DataConfig,
    register_model,
)

__all__ = [
    "AlexNet",
    "LeNet5",
    "NiN",
    "alexnet",
    "lenet5",
    "nin",
    "nin_block",
]

LENET_DATA = DataConfig(
    input_size=(1, 32, 32), mean=DIGITS_DATA.mean[:1], std=DIGITS_DATA.std[:1]
)
"""Digits as LeNet-5 reads them: one grey channel, 32x32 (the paper pads 28x28
MNIST to 32x32; dlnotes upsamples the 8x8 scikit-learn digits)."""


def _check_classes(num_classes: int) -> None:
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")


# --8<-- [start:lenet]
class LeNet5(nn.Module):
    """LeNet-5 (paper Fig. 2): ``(N, 1, 32, 32) -> (N, num_classes)``.

    Layer names are the paper's. Departures, as in most modern versions: S2/S4
    are plain 2x2 average pools (the paper multiplies the sum by a learned
    coefficient and adds a learned bias: 12 and 32 more parameters), every C3
    map sees all six S2 maps (the paper's Table I connects each to 3, 4 or 6 of
    them to break symmetry: 1,516 parameters instead of 2,416), tanh instead of
    the scaled ``1.7159 tanh(2a/3)``, and the output layer is linear (the
    paper's Euclidean RBF units have fixed weights).
    """

    classifier_name: ClassVar[str] = "classifier.output"

    def __init__(self, num_classes: int = 10, *, in_channels: int = 1) -> None:
        super().__init__()
        _check_classes(num_classes)
        self.features = nn.Sequential(
            OrderedDict(
                c1=nn.Conv2d(in_channels, 6, kernel_size=5),  # 32x32 -> 6@28x28
                act1=nn.Tanh(),
                s2=nn.AvgPool2d(kernel_size=2, stride=2),  # -> 6@14x14
                c3=nn.Conv2d(6, 16, kernel_size=5),  # -> 16@10x10
                act3=nn.Tanh(),
                s4=nn.AvgPool2d(kernel_size=2, stride=2),  # -> 16@5x5
                c5=nn.Conv2d(16, 120, kernel_size=5),  # -> 120@1x1
                act5=nn.Tanh(),
            )
        )
        self.classifier = nn.Sequential(
            OrderedDict(
                f6=nn.Linear(120, 84),
                act6=nn.Tanh(),
                output=nn.Linear(84, num_classes),
            )
        )
        self.num_features = 84
        self.feature_info = [
            FeatureInfo("features.s2", 6, 2),
            FeatureInfo("features.s4", 16, 4),
        ]

    def forward_features(self, x: Tensor) -> Tensor:
        """``(N, C, 32, 32) -> (N, 120, 1, 1)``."""
        return self.features(x)

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        x = torch.flatten(x, 1)  # (N, 120)
        return self.classifier[:-1](x) if pre_logits else self.classifier(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))


# --8<-- [end:lenet]


@register_model(
    family="lenet",
    data_config=LENET_DATA,
    train_defaults={"in_channels": 1, "lr": 0.05, "batch_size": 32},
)
def lenet5(*, num_classes: int = 10, in_channels: int = 1) -> LeNet5:
    """LeNet-5 (LeCun et al. 1998) for 32x32 grey images, tanh and average pools."""
    return LeNet5(num_classes, in_channels=in_channels)


# --8<-- [start:alexnet]
class AlexNet(nn.Module):
    """AlexNet with torchvision's layout: ``(N, 3, 224, 224) -> (N, num_classes)``.

    Five convolutions (11x11 stride 4, 5x5, three 3x3) with ReLU and three
    overlapping 3x3/2 max pools, then three fully connected layers with dropout.
    Departures from the 2012 paper (as torchvision): one tower instead of two
    GPU halves (64-192-384-256-256 filters instead of 96-256-384-384-256, no
    grouped convolutions) and no local response normalisation.
    """

    classifier_name: ClassVar[str] = "classifier.6"

    def __init__(
        self, num_classes: int = 1000, *, in_channels: int = 3, dropout: float = 0.5
    ) -> None:
        super().__init__()
        _check_classes(num_classes)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 64, kernel_size=11, stride=4, padding=2),  # 55
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),  # overlapping pool: 55 -> 27
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),  # 27 -> 13
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),  # 13 -> 6
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))  # other input sizes -> 6x6
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(256 * 6 * 6, 4096),  # 37.7 M of the 61.1 M parameters
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )
        self.num_features = 256 * 6 * 6
        self.feature_info = [
            FeatureInfo("features.2", 64, 8),
            FeatureInfo("features.5", 192, 16),
            FeatureInfo("features.12", 256, 32),
        ]

    def forward_features(self, x: Tensor) -> Tensor:
        """``(N, C, 224, 224) -> (N, 256, 6, 6)``."""
        return self.features(x)

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        x = torch.flatten(self.avgpool(x), 1)  # (N, 9216)
        return self.classifier[:-1](x) if pre_logits else self.classifier(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))


# --8<-- [end:alexnet]


@register_model(
    family="alexnet",
    data_config=IMAGENET_DATA,
    # digits at 64x64 (AlexNet needs >= 63): 17.8 % after 2 epochs, 10 % at batch 128
    train_defaults={"image_size": 64, "lr": 0.01, "batch_size": 32},
)
def alexnet(
    *, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5
) -> AlexNet:
    """AlexNet (Krizhevsky et al. 2012) in torchvision's single-tower layout."""
    return AlexNet(num_classes, in_channels=in_channels, dropout=dropout)


# --8<-- [start:nin]
def nin_block(
    in_channels: int, out_channels: int, kernel_size: int, stride: int, padding: int
) -> nn.Sequential:
    """An mlpconv layer: a KxK conv, then two 1x1 convs, each with ReLU.

    The 1x1 convs are a small MLP applied at every pixel across the channels
    (paper section 3.1): ``(N, C_in, H, W) -> (N, out_channels, H', W')``.
    """
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, kernel_size=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, kernel_size=1),
        nn.ReLU(inplace=True),
    )


class NiN(nn.Module):
    """Network in Network for ImageNet: four mlpconv blocks, global average pool.

    The last block has ``num_classes`` channels, one feature map per class;
    global average pooling turns each map into that class's score (paper
    section 3.2), so the network has no fully connected layer at all.
    Input ``(N, 3, 224, 224)`` -> ``(N, num_classes)``; at least 67x67.
    """

    classifier_name: ClassVar[str] = "features.block4"

    def __init__(
        self, num_classes: int = 1000, *, in_channels: int = 3, dropout: float = 0.5
    ) -> None:
        super().__init__()
        _check_classes(num_classes)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.features = nn.Sequential(
            OrderedDict(
                block1=nin_block(in_channels, 96, 11, stride=4, padding=0),  # 54
                pool1=nn.MaxPool2d(3, stride=2),  # 26
                block2=nin_block(96, 256, 5, stride=1, padding=2),
                pool2=nn.MaxPool2d(3, stride=2),  # 12
                block3=nin_block(256, 384, 3, stride=1, padding=1),
                pool3=nn.MaxPool2d(3, stride=2),  # 5
                dropout=nn.Dropout(p=dropout),
                block4=nin_block(384, num_classes, 3, stride=1, padding=1),
            )
        )
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))  # global average pooling
        self.num_features = 384  # channels entering the last block (the head)
        self.feature_info = [
            FeatureInfo("features.pool1", 96, 8),
            FeatureInfo("features.pool2", 256, 16),
            FeatureInfo("features.pool3", 384, 32),
        ]
        init_conv_bn_(self)

    def forward_features(self, x: Tensor) -> Tensor:
        """``(N, C, 224, 224) -> (N, 384, 5, 5)``: everything before block4."""
        return self.features[:-1](x)

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        """block4 (one map per class), then global average pooling."""
        if pre_logits:
            return torch.flatten(self.avgpool(x), 1)  # (N, 384)
        x = self.features[-1](x)  # block4: (N, num_classes, 5, 5) at 224x224
        return torch.flatten(self.avgpool(x), 1)  # (N, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))


# --8<-- [end:nin]


@register_model(
    family="nin",
    data_config=IMAGENET_DATA,
    train_defaults={"image_size": 96, "lr": 0.01},
)
def nin(*, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> NiN:
    """Network in Network (Lin et al. 2013, arXiv:1312.4400), ImageNet layout."""
    return NiN(num_classes, in_channels=in_channels, dropout=dropout)
