"""CIFAR ResNets of the paper's section 4.2: options A/B/C, plain nets, BN flag."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dlnotes.models.cifar import (
    CifarBasicBlock,
    CifarResNet,
    ZeroPadShortcut,
    cifar_plain,
    cifar_resnet,
)
from dlnotes.models.paper_tables import PAPER_CIFAR_PARAMS, cifar_table

# Paper Table 6: params of the option-A networks, printed to 2 significant digits
# (test_paper_tables pins these constants to the paper's literal values).
PAPER_PARAMS = PAPER_CIFAR_PARAMS


def count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def expected_params(depth: int, option: str, bn: bool = True) -> int:
    """Parameter count written out from the architecture (section 4.2)."""
    n = (depth - 2) // 6
    norm = 2 if bn else 0  # per channel: BN scale + shift ...
    bias = 0 if bn else 1  # ... or a conv bias without BN
    total = 3 * 16 * 9 + (norm + bias) * 16  # first 3x3 conv, 16 filters
    c_in = 16
    for c in (16, 32, 64):
        for i in range(n):
            cin = c_in if i == 0 else c
            total += 9 * cin * c + 9 * c * c + 2 * (norm + bias) * c  # two 3x3 convs
            projection = option == "C" or (option == "B" and cin != c)
            if projection:
                total += cin * c + (norm + bias) * c  # 1x1 conv (+ BN)
        c_in = c
    return total + 64 * 10 + 10  # fc


def test_param_counts_match_the_formula_and_the_paper() -> None:
    # cifar_table() builds every depth with options A, B, C (ResNet-1202: count
    # only, no forward pass besides the shape-level profile)
    rows = cifar_table()
    assert [r.depth for r in rows] == list(PAPER_PARAMS)
    for r in rows:
        assert r.params_a == expected_params(r.depth, "A")
        assert r.params_b == expected_params(r.depth, "B")
        assert r.params_c == expected_params(r.depth, "C")
        paper = PAPER_PARAMS[r.depth]
        # the paper rounds to 2 significant digits: within half a unit of the last
        assert abs(r.params_a - paper) <= 0.5 * 10 ** (len(str(int(paper))) - 2)
        # B adds exactly the two projections where the width doubles (16->32->64)
        assert r.params_b - r.params_a == (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)
        assert r.params_a < r.params_b < r.params_c


@pytest.mark.parametrize("depth", [20, 56])
def test_plain_has_the_parameters_of_option_a(depth: int) -> None:
    assert count(cifar_plain(depth)) == count(cifar_resnet(depth, shortcut="A"))
    assert count(cifar_resnet(depth, shortcut="C")) == expected_params(depth, "C")


def test_option_a_is_subsampling_plus_zero_channels() -> None:
    x = torch.randn(2, 16, 8, 8)
    y = ZeroPadShortcut(16, 32, stride=2)(x)
    assert y.shape == (2, 32, 4, 4)
    torch.testing.assert_close(y[:, :16], x[:, :, ::2, ::2])
    assert (y[:, 16:] == 0).all()
    assert list(ZeroPadShortcut(16, 32, 2).parameters()) == []
    with pytest.raises(ValueError, match="out_channels must be >= in_channels"):
        ZeroPadShortcut(32, 16, 2)


def test_where_each_option_puts_projections() -> None:
    n = 3
    kinds = {}
    for opt in "ABC":
        units = [m for m in cifar_resnet(20, shortcut=opt).modules()]
        units = [m for m in units if isinstance(m, CifarBasicBlock)]
        assert len(units) == 3 * n
        kinds[opt] = [type(u.downsample).__name__ for u in units]
    # the first unit of stages 2 and 3 changes the shape (index 3 and 6)
    for opt, projection in (("A", "ZeroPadShortcut"), ("B", "Sequential")):
        expected = ["NoneType"] * 9
        expected[3] = expected[6] = projection
        assert kinds[opt] == expected
    assert kinds["C"] == ["Sequential"] * 9


def test_plain_network_has_the_same_layers_and_no_shortcut() -> None:
    torch.manual_seed(0)
    res, plain = cifar_resnet(20).eval(), cifar_plain(20).eval()
    assert [k for k in res.state_dict()] == [k for k in plain.state_dict()]
    convs = [m for m in plain.modules() if isinstance(m, nn.Conv2d)]
    fcs = [m for m in plain.modules() if isinstance(m, nn.Linear)]
    assert len(convs) + len(fcs) == 20  # 6n+2 weighted layers
    plain.load_state_dict(res.state_dict())
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert not torch.allclose(res(x), plain(x))
    # a plain unit is exactly ReLU(BN(conv(ReLU(BN(conv(x)))))): check on one unit
    unit = plain.layer2[1]
    z = torch.randn(2, 32, 16, 16)
    with torch.no_grad():
        expected = torch.relu(unit.bn2(unit.conv2(torch.relu(unit.bn1(unit.conv1(z))))))
        torch.testing.assert_close(unit(z), expected)


def test_residual_unit_adds_the_identity() -> None:
    unit = cifar_resnet(20).eval().layer2[1]
    z = torch.randn(2, 32, 16, 16)
    with torch.no_grad():
        branch = unit.bn2(unit.conv2(torch.relu(unit.bn1(unit.conv1(z)))))
        torch.testing.assert_close(unit(z), torch.relu(branch + z))


@pytest.mark.parametrize("batch_norm", [True, False])
def test_batch_norm_flag(batch_norm: bool) -> None:
    model = cifar_resnet(20, shortcut="B", batch_norm=batch_norm)
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(bns) == (len(convs) if batch_norm else 0)
    assert all((c.bias is None) == batch_norm for c in convs)
    assert count(model) == expected_params(20, "B", bn=batch_norm)
    out = model(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 10) and torch.isfinite(out).all()


@pytest.mark.parametrize("depth", [0, 8 + 1, 21, 19])
def test_depth_must_be_6n_plus_2(depth: int) -> None:
    with pytest.raises(ValueError, match=r"depth must be 6n\+2"):
        CifarResNet(depth)


def test_bad_shortcut() -> None:
    with pytest.raises(ValueError, match=r"shortcut must be one of \('A', 'B', 'C'\)"):
        cifar_resnet(20, shortcut=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="shortcut must be one of"):
        CifarResNet(20, shortcut="a")


def test_any_6n_plus_2_depth_builds() -> None:
    model = CifarResNet(8, num_classes=4, in_channels=1)
    assert model(torch.randn(2, 1, 32, 32)).shape == (2, 4)
    assert [len(s) for s in (model.layer1, model.layer2, model.layer3)] == [1, 1, 1]
