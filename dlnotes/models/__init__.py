"""PyTorch models behind one registry.

>>> from dlnotes.models import create_model, list_models, model_entry
>>> net = create_model("resnet50")            # v1.5, torchvision's layout
>>> net = create_model("cifar_resnet56", shortcut="B")
>>> list_models("cifar_plain*")
['cifar_plain20', 'cifar_plain32', 'cifar_plain44', 'cifar_plain56', 'cifar_plain110']
>>> model_entry("resnet50").data_config.resize_size
256

Families: ``resnet`` (ImageNet ResNet v1 / v1.5 / v2, arXiv:1512.03385 and
arXiv:1603.05027), ``cifar`` (the paper's CIFAR ResNets with shortcut options
A/B/C and the plain networks), ``vgg`` (arXiv:1409.1556), ``cnn`` (the cs231n
pattern), and the classic CNNs ``lenet``, ``alexnet``, ``nin``, ``googlenet``
and ``densenet`` (torchvision's layouts where torchvision has the model). Every
public builder registers itself with ``@register_model``;
importing this package imports every model module, so the registry is full.
Invalid names or arguments raise ValueError naming the choices.
"""

from __future__ import annotations

from dlnotes.models._common import FeatureInfo
from dlnotes.models.cifar import CifarResNet, cifar_plain, cifar_resnet
from dlnotes.models.classic import AlexNet, LeNet5, NiN, alexnet, lenet5, nin
from dlnotes.models.cnn import ConvNet, cnn
from dlnotes.models.densenet import (
    DenseNet,
    densenet121,
    densenet161,
    densenet169,
    densenet201,
)
from dlnotes.models.googlenet import GoogLeNet, googlenet
from dlnotes.models.registry import (
    CIFAR10_DATA,
    DIGITS_DATA,
    IMAGENET_DATA,
    DataConfig,
    ModelEntry,
    create_model,
    list_models,
    model_entry,
    register_model,
)
from dlnotes.models.resnet import (
    ResNet,
    resnet,
    resnet18,
    resnet34,
    resnet50,
    resnet101,
    resnet152,
)
from dlnotes.models.vgg import VGG, vgg

__all__ = [
    "CIFAR10_DATA",
    "DIGITS_DATA",
    "IMAGENET_DATA",
    "VGG",
    "AlexNet",
    "CifarResNet",
    "ConvNet",
    "DataConfig",
    "DenseNet",
    "FeatureInfo",
    "GoogLeNet",
    "LeNet5",
    "ModelEntry",
    "NiN",
    "ResNet",
    "alexnet",
    "cifar_plain",
    "cifar_resnet",
    "cnn",
    "create_model",
    "densenet121",
    "densenet161",
    "densenet169",
    "densenet201",
    "googlenet",
    "lenet5",
    "list_models",
    "model_entry",
    "nin",
    "register_model",
    "resnet",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "vgg",
]
