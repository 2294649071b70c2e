"""The cs231n-pattern ConvNet: structure, and forward against torch.nn.functional."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dlnotes.models.cnn import ConvNet, cnn


def test_pattern_and_layer_counts() -> None:
    model = cnn(channels=(4, 8, 8), convs_per_block=2, hidden_features=(32, 16))
    assert model.pattern == (
        "INPUT -> [[CONV -> RELU]*2 -> POOL]*3 -> [FC -> RELU]*2 -> FC"
    )
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    fcs = [m for m in model.modules() if isinstance(m, nn.Linear)]
    pools = [m for m in model.modules() if isinstance(m, nn.MaxPool2d)]
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    assert (len(convs), len(pools), len(fcs), len(relus)) == (6, 3, 3, 8)
    assert fcs[0].in_features == 8 * 4 * 4  # 32 / 2**3 = 4
    no_pool = cnn(channels=(4,), convs_per_block=1, pool=False, hidden_features=())
    assert no_pool.pattern == "INPUT -> [[CONV -> RELU]*1]*1 -> [FC -> RELU]*0 -> FC"
    assert no_pool.fc.in_features == 4 * 32 * 32


def reference_forward(model: ConvNet, x: torch.Tensor) -> torch.Tensor:
    """The same network written with torch.nn.functional, layer by layer."""
    for block in model.features:
        for layer in block:
            if isinstance(layer, nn.Conv2d):
                x = F.relu(F.conv2d(x, layer.weight, layer.bias, padding=1))
            elif isinstance(layer, nn.MaxPool2d):
                x = F.max_pool2d(x, 2)
    x = x.reshape(x.shape[0], -1)
    for layer in model.hidden:
        if isinstance(layer, nn.Linear):
            x = F.relu(F.linear(x, layer.weight, layer.bias))
    return F.linear(x, model.fc.weight, model.fc.bias)


def test_forward_matches_functional_in_float64() -> None:
    torch.manual_seed(0)
    model = cnn(channels=(3, 5), hidden_features=(7,), num_classes=4, input_size=8)
    model = model.double()
    x = torch.randn(3, 3, 8, 8, dtype=torch.float64)
    torch.testing.assert_close(model(x), reference_forward(model, x))


def test_feature_info() -> None:
    model = cnn(channels=(4, 6), input_size=16)
    assert [(f.module, f.num_chs, f.reduction) for f in model.feature_info] == [
        ("features.block1", 4, 2),
        ("features.block2", 6, 4),
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"channels": ()}, "channels must be"),
        ({"convs_per_block": 0}, "convs_per_block must be >= 1"),
        ({"input_size": 30}, r"input_size must be a multiple of 4"),
        ({"hidden_features": (0,)}, "hidden_features and num_classes must be >= 1"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cnn(**kwargs)  # type: ignore[arg-type]
