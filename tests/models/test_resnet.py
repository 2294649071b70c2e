"""ImageNet ResNets: torchvision's state_dicts, v1 vs v1.5 vs v2, zero-init."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from dlnotes.models.paper_tables import imagenet_table
from dlnotes.models.resnet import (
    BasicBlock,
    Bottleneck,
    BottleneckV1,
    PreActBasicBlock,
    PreActBottleneck,
    resnet,
    resnet50,
)

ROOT = Path(__file__).resolve().parents[2]
DEPTHS = (18, 34, 50, 101, 152)


@cache
def reference() -> dict[str, Any]:
    """torchvision's state_dict shapes, read off torchvision (not a dependency)."""
    for path in (
        ROOT / "tests/data/torchvision_resnet_state_dicts.json",
        ROOT.parent / "shared/reference/torchvision_resnet_state_dicts.json",
    ):
        if path.is_file():
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            return data["models"]
    raise FileNotFoundError("torchvision_resnet_state_dicts.json not found")


def meta_resnet(depth: int, version: str = "1.5") -> nn.Module:
    with torch.device("meta"):  # shapes only: no memory, no init cost
        return resnet(depth, version=version)


def shapes(model: nn.Module) -> dict[str, list[int]]:
    return {k: list(v.shape) for k, v in model.state_dict().items()}


@pytest.mark.parametrize("depth", DEPTHS)
def test_state_dict_equals_torchvision(depth: int) -> None:
    ref = reference()[f"resnet{depth}"]
    model = meta_resnet(depth)
    assert shapes(model) == ref["state_dict_shapes"]
    assert list(model.state_dict()) == list(ref["state_dict_shapes"])  # same order
    assert sum(p.numel() for p in model.parameters()) == ref["num_params"]


def test_multiply_adds_equal_torchvision() -> None:
    # the reference counted FLOPs = 2 x multiply-adds of the convs and fc layer;
    # imagenet_table() runs dlnotes.complexity.profile on every depth
    ref = reference()
    rows = imagenet_table()
    assert [r.depth for r in rows] == list(DEPTHS)
    for r in rows:
        assert 2 * r.macs_v1_5 == ref[f"resnet{r.depth}"]["forward_flops_224"]
        assert r.params == ref[f"resnet{r.depth}"]["num_params"]


@pytest.mark.parametrize("depth", DEPTHS)
def test_v1_has_the_same_parameters_as_v1_5(depth: int) -> None:
    assert shapes(meta_resnet(depth, "1")) == shapes(meta_resnet(depth, "1.5"))


def test_v1_and_v1_5_differ_only_in_the_stride_placement() -> None:
    v1, v15 = resnet(50, version="1"), resnet(50, version="1.5")
    for stage in ("layer2", "layer3", "layer4"):
        a, b = getattr(v1, stage)[0], getattr(v15, stage)[0]
        assert isinstance(a, BottleneckV1) and type(b) is Bottleneck
        assert (a.conv1.stride, a.conv2.stride) == ((2, 2), (1, 1))  # the paper
        assert (b.conv1.stride, b.conv2.stride) == ((1, 1), (2, 2))  # torchvision
        assert a.downsample[0].stride == b.downsample[0].stride == (2, 2)
    strides_v1 = {
        n: m.stride for n, m in v1.named_modules() if isinstance(m, nn.Conv2d)
    }
    strides_15 = {
        n: m.stride for n, m in v15.named_modules() if isinstance(m, nn.Conv2d)
    }
    differ = {n for n in strides_v1 if strides_v1[n] != strides_15[n]}
    assert differ == {
        f"layer{s}.0.conv{c}" for s in (2, 3, 4) for c in (1, 2)
    }  # nothing else moved

    v1.load_state_dict(v15.state_dict())  # same weights ...
    v1.eval(), v15.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        y1, y15 = v1(x), v15(x)
    assert y1.shape == y15.shape == (2, 1000)
    assert not torch.allclose(y1, y15, atol=1e-4)  # ... different network


def test_basic_block_nets_are_the_same_in_v1_and_v1_5() -> None:
    # no 1x1 conv to move the stride from: ResNet-18/34 v1 is v1.5
    v1, v15 = resnet(18, version="1").eval(), resnet(18, version="1.5").eval()
    v1.load_state_dict(v15.state_dict())
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(v1(x), v15(x))


def test_v1_stride_on_1x1_skips_three_quarters_of_the_input() -> None:
    # The v1 bottleneck's strided 1x1 conv never reads odd rows/columns: changing
    # them changes nothing on the residual path (only the 1x1/2 shortcut reads
    # the same even positions). v1.5's strided 3x3 reads them.
    torch.manual_seed(0)
    x = torch.randn(1, 256, 8, 8)
    y = x.clone()
    y[:, :, 1::2, :] += 1.0  # perturb the odd rows only
    for cls, reads_odd in ((BottleneckV1, False), (Bottleneck, True)):
        down = nn.Sequential(nn.Conv2d(256, 512, 1, stride=2, bias=False))
        unit = cls(256, 128, stride=2, downsample=down).eval()
        with torch.no_grad():
            changed = not torch.allclose(unit(x), unit(y))
        assert changed is reads_odd, cls.__name__


def test_v2_units_are_pre_activation() -> None:
    model = resnet(50, version="2")
    assert isinstance(model.layer1[0], PreActBottleneck)
    assert model.layer1[0].bn1 is None  # reuses the stem's BN-ReLU (paper appendix)
    assert all(u.bn1 is not None for u in list(model.layer1)[1:])
    assert isinstance(model.norm, nn.BatchNorm2d)  # final BN-ReLU before pooling
    assert len(model.layer2[0].downsample) == 1  # projection without BN
    # no ReLU after the addition: outputs can be negative (v1: always >= 0)
    unit_v2 = PreActBasicBlock(16, 16).eval()
    unit_v1 = BasicBlock(16, 16).eval()
    x = torch.randn(2, 16, 8, 8)
    with torch.no_grad():
        assert (unit_v2(x) < 0).any()
        assert (unit_v1(x) >= 0).all()


@pytest.mark.parametrize("version", ["1", "1.5", "2"])
def test_zero_init_residual_makes_every_unit_an_identity(version: str) -> None:
    model = resnet(18, version=version, zero_init_residual=True).eval()
    unit = model.layer1[1]  # identity shortcut
    x = torch.randn(2, 64, 8, 8)
    with torch.no_grad():
        y = unit(x)
    # v1/v1.5: y = ReLU(0 + x); v2: y = 0 + x (nothing after the addition)
    torch.testing.assert_close(y, x if version == "2" else torch.relu(x))


def test_default_init_is_not_an_identity() -> None:
    unit = resnet(18).eval().layer1[1]
    x = torch.randn(2, 64, 8, 8)
    with torch.no_grad():
        assert not torch.allclose(unit(x), torch.relu(x))


def test_forward_features_and_head() -> None:
    model = resnet50(num_classes=5).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        feats = model.forward_features(x)
        assert feats.shape == (2, 2048, 2, 2)
        assert model.forward_head(feats, pre_logits=True).shape == (2, 2048)
        torch.testing.assert_close(model.forward_head(feats), model(x))


def test_in_channels() -> None:
    model = resnet(18, in_channels=1, num_classes=3)
    assert model.conv1.weight.shape == (64, 1, 7, 7)
    assert model(torch.randn(2, 1, 32, 32)).shape == (2, 3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"depth": 42}, r"depth must be one of \[18, 34, 50, 101, 152\], got 42"),
        ({"depth": 50, "version": "1.0"}, r"version must be one of"),
        ({"depth": 50, "num_classes": 0}, r"num_classes must be >= 1"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        resnet(**kwargs)


def test_block_expansion_class_attributes() -> None:
    assert BasicBlock.expansion == PreActBasicBlock.expansion == 1
    assert Bottleneck.expansion == BottleneckV1.expansion == 4
    assert PreActBottleneck.expansion == 4
