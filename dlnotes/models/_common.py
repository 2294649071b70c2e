"""Small pieces shared by the model files: feature descriptions and init."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn


@dataclass(frozen=True)
class FeatureInfo:
    """One stage of a network whose output a user may want as features.

    Attributes:
        module: dotted name of the sub-module whose output is the stage output
            (``model.get_submodule(module)``), e.g. ``"layer3"`` or ``"features.9"``.
        num_chs: channels of that output.
        reduction: total stride of that output relative to the input
            (input side / output side), e.g. 16 for ResNet's ``layer3``.
    """

    module: str
    num_chs: int
    reduction: int


def init_conv_bn_(model: nn.Module) -> None:
    """He (Kaiming) normal init for convolutions, BN weight 1 and bias 0.

    He et al. 2015, "Delving Deep into Rectifiers" (arXiv:1502.01852), in the
    ``fan_out`` mode that the ResNet authors' code and torchvision use.
    """
    for m in model.modules():
        if any(p.is_meta for p in m.parameters(recurse=False)):
            continue  # meta tensors (shapes only) hold no values to initialise
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d | nn.GroupNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
