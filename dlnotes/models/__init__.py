"""PyTorch models behind one registry.

>>> from dlnotes.models import create_model, list_models
>>> net = create_model("resnet50")            # v1.5, torchvision's layout
>>> net = create_model("cifar_resnet56", shortcut="B")
>>> list_models("cifar_plain*")
['cifar_plain20', 'cifar_plain32', 'cifar_plain44', 'cifar_plain56', 'cifar_plain110']

Families: ``resnet`` (ImageNet ResNet v1 / v1.5 / v2, arXiv:1512.03385 and
arXiv:1603.05027), ``cifar`` (the paper's CIFAR ResNets with shortcut options
A/B/C and the plain networks), ``vgg`` (arXiv:1409.1556) and ``cnn`` (the cs231n
pattern). Invalid names or arguments raise ValueError naming the choices.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from torch import nn

from dlnotes.models._common import FeatureInfo
from dlnotes.models.cifar import (
    PAPER_DEPTHS,
    CifarResNet,
    cifar_plain,
    cifar_resnet,
)
from dlnotes.models.cnn import ConvNet, cnn
from dlnotes.models.registry import (
    ModelEntry,
    create_model,
    list_models,
    model_entry,
    register_model,
)
from dlnotes.models.resnet import DEPTHS as RESNET_DEPTHS
from dlnotes.models.resnet import ResNet, resnet
from dlnotes.models.vgg import CONFIGS as VGG_CONFIGS
from dlnotes.models.vgg import VGG, vgg

__all__ = [
    "VGG",
    "CifarResNet",
    "ConvNet",
    "FeatureInfo",
    "ModelEntry",
    "ResNet",
    "cifar_plain",
    "cifar_resnet",
    "cnn",
    "create_model",
    "list_models",
    "model_entry",
    "register_model",
    "resnet",
    "vgg",
]


def _fixed(
    fn: Callable[..., nn.Module], *args: Any, **fixed: Any
) -> Callable[..., nn.Module]:
    """``fn`` with ``args``/``fixed`` bound; the bound names are no longer accepted."""
    bound = functools.partial(fn, *args, **fixed)
    sig = inspect.signature(bound)
    params = [p for name, p in sig.parameters.items() if name not in fixed]

    def builder(**kwargs: Any) -> nn.Module:
        return bound(**kwargs)

    builder.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    builder.__doc__ = fn.__doc__
    return builder


def _register_all() -> None:
    imagenet = (3, 224, 224)
    for depth in RESNET_DEPTHS:
        register_model(
            f"resnet{depth}",
            _fixed(resnet, depth),
            family="resnet",
            input_size=imagenet,
            description=f"ResNet-{depth} v1.5 (torchvision layout; version= selects)",
        )
        for version in ("1", "2"):
            register_model(
                f"resnet{depth}_v{version}",
                _fixed(resnet, depth, version=version),
                family="resnet",
                input_size=imagenet,
                description=f"ResNet-{depth} v{version}",
            )
    cifar = (3, 32, 32)
    for depth in PAPER_DEPTHS:
        register_model(
            f"cifar_resnet{depth}",
            _fixed(cifar_resnet, depth),
            family="cifar",
            input_size=cifar,
            description=f"CIFAR ResNet-{depth} (shortcut= 'A', 'B' or 'C')",
        )
    for depth in PAPER_DEPTHS[:-1]:
        register_model(
            f"cifar_plain{depth}",
            _fixed(cifar_plain, depth),
            family="cifar",
            input_size=cifar,
            description=f"CIFAR plain-{depth} (no shortcuts)",
        )
    for depth in VGG_CONFIGS:
        for bn in (False, True):
            register_model(
                f"vgg{depth}{'_bn' if bn else ''}",
                _fixed(vgg, depth, batch_norm=bn),
                family="vgg",
                input_size=imagenet,
                description=f"VGG-{depth}{' with BN' if bn else ''}",
            )
    register_model(
        "cnn",
        cnn,
        family="cnn",
        input_size=cifar,
        description="INPUT -> [[CONV -> RELU]*N -> POOL?]*M -> [FC -> RELU]*K -> FC",
    )


_register_all()
