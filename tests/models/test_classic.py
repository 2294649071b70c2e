"""Classic CNNs: published sizes, torchvision names, blocks, LeNet-5 learns digits."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dlnotes.complexity import profile
from dlnotes.models import create_model, lenet5
from dlnotes.models.densenet import DenseBlock
from dlnotes.models.googlenet import GoogLeNet, GoogLeNetOutputs, Inception
from dlnotes.models.paper_tables import TORCHVISION_NUMBERS, classic_table

# torchvision's documented numbers, written here independently of the package
DOCUMENTED = {
    "alexnet": (61_100_840, 0.71),
    "googlenet": (6_624_904, 1.50),
    "densenet121": (7_978_856, 2.83),
    "densenet161": (28_681_000, 7.73),
    "densenet169": (14_149_480, 3.36),
    "densenet201": (20_013_928, 4.29),
    "vgg16": (138_357_544, 15.47),
    "resnet50": (25_557_032, 4.09),
}


def test_params_and_macs_equal_torchvisions_documented_numbers() -> None:
    rows = {r.name: r for r in classic_table()}
    for name, (params, gflops) in DOCUMENTED.items():
        assert TORCHVISION_NUMBERS[name] == (params, gflops)
        assert rows[name].params == params, name
        assert abs(rows[name].macs / 1e9 - gflops) <= 0.005, (name, rows[name].macs)
    for row in rows.values():
        if row.torchvision is not None:
            assert row.params == row.torchvision[0], row.name
            assert abs(row.macs / 1e9 - row.torchvision[1]) <= 0.005, row.name


def test_lenet5_layers_match_the_papers_counts() -> None:
    # LeCun et al. 1998, section II.B: C1 156 parameters and 122,304
    # connections, C5 48,120, F6 10,164 (connections = MACs + bias adds).
    prof = profile(lenet5(), (1, 1, 32, 32))
    rows = {r.name: r for r in prof.rows}
    for layer, params, connections in [
        ("features.c1", 156, 122_304),
        ("features.c5", 48_120, 48_120),
        ("classifier.f6", 10_164, 10_164),
    ]:
        bias_adds = rows[layer].activations  # one bias add per output element
        assert rows[layer].params == params, layer
        assert rows[layer].macs + bias_adds == connections, layer
    # C3 sees all six S2 maps here (the paper's table: 1,516 parameters)
    assert rows["features.c3"].params == 16 * (6 * 25 + 1)
    assert prof.params == 61_706


@pytest.mark.parametrize(
    ("name", "key", "shape"),
    [
        ("alexnet", "features.0.weight", (64, 3, 11, 11)),
        ("alexnet", "classifier.1.weight", (4096, 9216)),
        ("googlenet", "conv1.bn.running_var", (64,)),
        ("googlenet", "inception3a.branch2.1.conv.weight", (128, 96, 3, 3)),
        ("googlenet", "inception3a.branch3.1.conv.weight", (32, 16, 3, 3)),
        ("googlenet", "inception5b.branch4.1.conv.weight", (128, 832, 1, 1)),
        ("googlenet", "fc.weight", (1000, 1024)),
        ("densenet121", "features.conv0.weight", (64, 3, 7, 7)),
        ("densenet121", "features.denseblock1.denselayer1.norm1.weight", (64,)),
        (
            "densenet121",
            "features.denseblock4.denselayer16.conv2.weight",
            (32, 128, 3, 3),
        ),
        ("densenet121", "features.transition1.conv.weight", (128, 256, 1, 1)),
        ("densenet121", "features.norm5.weight", (1024,)),
        ("densenet121", "classifier.weight", (1000, 1024)),
    ],
)
def test_state_dict_keys_are_torchvisions(name: str, key: str, shape: tuple) -> None:
    with torch.device("meta"):
        state = create_model(name).state_dict()
    assert tuple(state[key].shape) == shape


def test_inception_concatenates_its_four_branches() -> None:
    torch.manual_seed(0)
    block = Inception(16, 8, 4, 12, 2, 6, 5).eval()
    x = torch.randn(2, 16, 9, 9)
    out = block(x)
    assert out.shape == (2, 8 + 12 + 6 + 5, 9, 9)  # the sizes are kept
    parts = [block.branch1(x), block.branch2(x), block.branch3(x), block.branch4(x)]
    assert torch.equal(out, torch.cat(parts, dim=1))
    # the pool branch: a 3x3/1 max pool then the 1x1 "pool proj"
    pooled = F.max_pool2d(x, 3, stride=1, padding=1)
    assert torch.equal(block.branch4[1](pooled), parts[3])


def test_dense_block_keeps_its_input_and_adds_growth_rate_channels() -> None:
    torch.manual_seed(0)
    block = DenseBlock(
        num_layers=3, in_channels=5, growth_rate=4, bn_size=2, drop_rate=0
    )
    block.eval()
    x = torch.randn(2, 5, 6, 6)
    out = block(x)
    assert out.shape == (2, 5 + 3 * 4, 6, 6)
    assert torch.equal(out[:, :5], x)  # the input passes through unchanged
    # layer 2 reads the input and layer 1's output, concatenated
    first = block["denselayer1"]([x])
    assert torch.equal(out[:, 5:9], first)
    assert torch.equal(out[:, 9:13], block["denselayer2"]([x, first]))


def test_googlenet_aux_classifiers_train_and_vanish_at_inference() -> None:
    torch.manual_seed(0)
    net = GoogLeNet(num_classes=5, aux_logits=True)
    out = net(torch.randn(2, 3, 64, 64))
    assert isinstance(out, GoogLeNetOutputs)
    loss = out.logits.sum() + 0.3 * (out.aux_logits1.sum() + out.aux_logits2.sum())
    loss.backward()
    assert all(p.grad is not None for p in net.parameters())
    net.eval()
    with torch.no_grad():
        logits = net(torch.randn(2, 3, 64, 64))
    assert isinstance(logits, torch.Tensor) and logits.shape == (2, 5)
    no_aux = sum(p.numel() for p in create_model("googlenet").parameters())
    assert no_aux == 6_624_904 < sum(p.numel() for p in net.parameters())


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("alexnet", {"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
        ("lenet5", {"num_classes": 0}, "num_classes must be >= 1"),
        ("densenet121", {"drop_rate": -0.1}, "drop_rate must be in"),
        ("googlenet", {"num_classes": 0}, "num_classes must be >= 1"),
    ],
)
def test_bad_values_raise_value_error(name: str, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        create_model(name, **kwargs)


@pytest.mark.slow
def test_lenet5_learns_the_digits_end_to_end() -> None:
    """LeNet-5 on scikit-learn's digits (8x8 upsampled to 32x32), plain SGD."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = torch.tensor(digits.images, dtype=torch.float32)[:, None] / 16.0
    x = F.interpolate(x, size=(32, 32), mode="bilinear").clamp(0, 1)
    x = (x - x.mean()) / x.std()
    y = torch.tensor(digits.target)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.2, random_state=0, stratify=y
    )
    torch.manual_seed(0)
    net: nn.Module = lenet5()
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    for _ in range(8):
        net.train()
        for idx in torch.randperm(len(x_train)).split(32):
            loss = F.cross_entropy(net(x_train[idx]), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    with torch.no_grad():
        accuracy = (net(x_test).argmax(1) == y_test).float().mean().item()
    assert accuracy >= 0.95, accuracy


def test_the_complexity_page_shows_exactly_the_computed_table() -> None:
    from dlnotes.models.paper_tables import classic_markdown
    from tests.support import DOCS

    text = (DOCS / "cnn" / "complexity.md").read_text(encoding="utf-8")
    assert classic_markdown() in text, "re-paste classic_markdown() into the page"
