"""VGG: the paper's configurations and parameter counts, torchvision's layout."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dlnotes.models.vgg import CONFIGS, VGG, vgg

# Paper (arXiv:1409.1556) Table 2: parameters in millions for A, B, D, E.
PAPER_MILLIONS = {11: 133, 13: 133, 16: 138, 19: 144}
# Weight layers per configuration, the number in the name: convs + 3 FC.
CONV_WIDTHS = {
    11: [64, 128, 256, 256, 512, 512, 512, 512],
    13: [64, 64, 128, 128, 256, 256, 512, 512, 512, 512],
    16: [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512],
    19: [64, 64, 128, 128] + [256] * 4 + [512] * 8,
}


def expected_params(depth: int, bn: bool, side: int = 7, classes: int = 1000) -> int:
    total, c_in = 0, 3
    for c in CONV_WIDTHS[depth]:
        total += 9 * c_in * c + c + (2 * c if bn else 0)
        c_in = c
    flat = 512 * side * side
    return total + flat * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * classes + classes


def count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("depth", [11, 13, 16, 19])
@pytest.mark.parametrize("bn", [False, True])
def test_param_counts(depth: int, bn: bool) -> None:
    with torch.device("meta"):
        model = vgg(depth, batch_norm=bn)
    n = count(model)
    assert n == expected_params(depth, bn)
    assert round(n / 1e6) == PAPER_MILLIONS[depth]
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    fcs = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert len(convs) + len(fcs) == depth  # "VGG-16" = 16 weight layers
    assert all(c.kernel_size == (3, 3) and c.padding == (1, 1) for c in convs)


def test_torchvision_key_layout() -> None:
    with torch.device("meta"):
        keys = list(vgg(16).state_dict())
        keys_bn = list(vgg(11, batch_norm=True).state_dict())
    assert keys[:2] == ["features.0.weight", "features.0.bias"]
    assert keys[-6:] == [
        "classifier.0.weight",
        "classifier.0.bias",
        "classifier.3.weight",
        "classifier.3.bias",
        "classifier.6.weight",
        "classifier.6.bias",
    ]
    assert "features.28.weight" in keys  # VGG-16's last conv
    assert keys_bn[2:6] == [
        "features.1.weight",
        "features.1.bias",
        "features.1.running_mean",
        "features.1.running_var",
    ]


def test_small_input_size() -> None:
    model = vgg(11, input_size=32, num_classes=10, hidden_features=64).eval()
    assert model.classifier[0].in_features == 512
    assert count(model) == (
        expected_params(11, False, side=1, classes=10)
        - (512 * 4096 + 4096 * 4096 + 4096 * 10 + 2 * 4096)
        + (512 * 64 + 64 * 64 + 64 * 10 + 2 * 64)
    )
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert model(x).shape == (2, 10)
        assert model.forward_head(model.forward_features(x), True).shape == (2, 64)


def test_five_pools_halve_the_size() -> None:
    model = vgg(13, input_size=64, num_classes=3)
    pools = [m for m in model.features if isinstance(m, nn.MaxPool2d)]
    assert len(pools) == 5 == len(CONFIGS[13])
    assert model.forward_features(torch.randn(1, 3, 64, 64)).shape == (1, 512, 2, 2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"depth": 12}, r"depth must be one of \[11, 13, 16, 19\]"),
        ({"depth": 11, "input_size": 48}, "input_size must be a multiple of 32"),
        ({"depth": 11, "dropout": 1.0}, r"dropout must be in \[0, 1\)"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        vgg(**kwargs)  # type: ignore[arg-type]


def test_vgg_class_takes_a_custom_config() -> None:
    model = VGG([[8], [8], [16], [16], [16]], input_size=32, hidden_features=8)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 1000)
