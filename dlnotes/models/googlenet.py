"""GoogLeNet (Inception v1) with torchvision's layout and parameter names.

Szegedy et al. 2014, "Going Deeper with Convolutions", arXiv:1409.4842, Table 1.
An Inception module runs four branches side by side on the same input - a 1x1
conv, a 1x1 "reduce" then 3x3, a 1x1 reduce then 5x5, and a 3x3 max pool then
a 1x1 "pool proj" - and concatenates their outputs along the channels.

Departures from the paper, as in torchvision (so its ``googlenet`` weights
load): every conv is followed by batch normalization (from Inception v2,
arXiv:1502.03167) and has no bias; the "5x5" branch uses a 3x3 kernel (a
known slip in the port that the released weights depend on); the two
auxiliary classifiers are optional and off by default.
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dlnotes.models._common import FeatureInfo
from dlnotes.models.registry import IMAGENET_DATA, register_model

__all__ = [
    "BasicConv2d",
    "GoogLeNet",
    "GoogLeNetOutputs",
    "Inception",
    "InceptionAux",
    "googlenet",
]


class BasicConv2d(nn.Module):
    """Conv (no bias) -> BN -> ReLU; keyword arguments go to ``nn.Conv2d``."""

    def __init__(self, in_channels: int, out_channels: int, **kwargs: Any) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)


# --8<-- [start:inception]
class Inception(nn.Module):
    """One Inception module (paper Fig. 2b); the arguments are Table 1's columns.

    ``(N, in_channels, H, W) -> (N, ch1x1 + ch3x3 + ch5x5 + pool_proj, H, W)``.
    The 1x1 "reduce" convs shrink the channels before the expensive 3x3 and
    5x5 convs, which is what keeps the network cheap.
    """

    def __init__(
        self,
        in_channels: int,
        ch1x1: int,
        ch3x3red: int,
        ch3x3: int,
        ch5x5red: int,
        ch5x5: int,
        pool_proj: int,
    ) -> None:
        super().__init__()
        self.branch1 = BasicConv2d(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(
            BasicConv2d(in_channels, ch3x3red, kernel_size=1),  # reduce
            BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1),
        )
        self.branch3 = nn.Sequential(
            BasicConv2d(in_channels, ch5x5red, kernel_size=1),  # reduce
            # the paper's 5x5; torchvision's port (and its weights) use 3x3
            BasicConv2d(ch5x5red, ch5x5, kernel_size=3, padding=1),
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
            BasicConv2d(in_channels, pool_proj, kernel_size=1),  # pool proj
        )

    def forward(self, x: Tensor) -> Tensor:
        branches = [self.branch1, self.branch2, self.branch3, self.branch4]
        return torch.cat([branch(x) for branch in branches], dim=1)  # channels


# --8<-- [end:inception]


class InceptionAux(nn.Module):
    """Auxiliary classifier on an intermediate stage (paper section 5).

    During training its loss is added with weight 0.3, giving the middle of
    the network a direct gradient; at inference it is discarded.
    """

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.conv = BasicConv2d(in_channels, 128, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(p=0.7)

    def forward(self, x: Tensor) -> Tensor:
        x = F.adaptive_avg_pool2d(x, (4, 4))  # (N, C, 4, 4): 5x5/3 pool at 224
        x = torch.flatten(self.conv(x), 1)  # (N, 2048)
        x = self.dropout(F.relu(self.fc1(x), inplace=True))
        return self.fc2(x)


class GoogLeNetOutputs(NamedTuple):
    """Training-mode output with auxiliary classifiers (torchvision's order)."""

    logits: Tensor
    aux_logits2: Tensor
    aux_logits1: Tensor


# --8<-- [start:googlenet]
class GoogLeNet(nn.Module):
    """GoogLeNet, paper Table 1: ``(N, 3, 224, 224) -> (N, num_classes)``.

    With ``aux_logits=True`` a model in training mode returns
    :class:`GoogLeNetOutputs` (main and two auxiliary logits); in eval mode it
    always returns the main logits only.
    """

    classifier_name: ClassVar[str] = "fc"

    def __init__(
        self,
        num_classes: int = 1000,
        *,
        in_channels: int = 3,
        aux_logits: bool = False,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.conv1 = BasicConv2d(in_channels, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)  # 112 -> 56
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)  # 56 -> 28
        # Table 1: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj
        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32)  # -> 256
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64)  # -> 480
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)  # 28 -> 14
        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64)  # -> 512
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64)  # -> 528
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128)  # -> 832
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)  # 14 -> 7
        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128)  # -> 1024
        self.aux1 = InceptionAux(512, num_classes) if aux_logits else None
        self.aux2 = InceptionAux(528, num_classes) if aux_logits else None
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))  # the 7x7 average pool
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(1024, num_classes)
        self.num_features = 1024
        self.feature_info = [
            FeatureInfo("conv3", 192, 4),
            FeatureInfo("inception3b", 480, 8),
            FeatureInfo("inception4e", 832, 16),
            FeatureInfo("inception5b", 1024, 32),
        ]
        for m in self.modules():  # torchvision's init
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor | GoogLeNetOutputs:
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        aux1 = self.aux1(x) if self.aux1 is not None and self.training else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if self.aux2 is not None and self.training else None
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))  # (N, 1024, 7, 7)
        x = self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))
        if aux1 is not None and aux2 is not None:
            return GoogLeNetOutputs(x, aux2, aux1)
        return x


# --8<-- [end:googlenet]


@register_model(
    family="googlenet",
    data_config=IMAGENET_DATA,
    train_defaults={"lr": 0.01, "batch_size": 32},  # digits: 79.4 % after 2 epochs
)
def googlenet(
    *,
    num_classes: int = 1000,
    in_channels: int = 3,
    aux_logits: bool = False,
    dropout: float = 0.2,
) -> GoogLeNet:
    """GoogLeNet / Inception v1 (Szegedy et al. 2014) in torchvision's layout."""
    return GoogLeNet(
        num_classes, in_channels=in_channels, aux_logits=aux_logits, dropout=dropout
    )
