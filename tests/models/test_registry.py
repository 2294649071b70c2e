"""Every registered model: stage shapes, gradients, no NaN; registry errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dlnotes.models import create_model, list_models, model_entry

BATCH = 2


def expected_stages(name: str) -> tuple[dict[str, object], int, list[tuple[int, int]]]:
    """(builder kwargs, input side, [(channels, side) per stage]) from the papers.

    Written from the architecture tables (ResNet Table 1, CIFAR section 4.2,
    VGG Table 1, the cs231n pattern), not from the models' own attributes.
    """
    family = model_entry(name).family
    if family == "resnet":
        depth = int(name.removeprefix("resnet").split("_")[0])
        e = 4 if depth >= 50 else 1
        side = 64  # strides 4, 8, 16, 32 -> 16, 8, 4, 2
        return {}, side, [(64 * e, 16), (128 * e, 8), (256 * e, 4), (512 * e, 2)]
    if family == "cifar":
        return {}, 32, [(16, 32), (32, 16), (64, 8)]
    if family == "vgg":
        stages = [(64, 16), (128, 8), (256, 4), (512, 2), (512, 1)]
        return {"input_size": 32, "num_classes": 10}, 32, stages
    if family == "cnn":
        kwargs = {"channels": (8, 12), "hidden_features": (20,), "input_size": 16}
        return kwargs, 16, [(8, 8), (12, 4)]
    raise AssertionError(f"add the expected stage shapes of family {family!r}")


FORWARD_MODELS = [n for n in list_models() if n != "cifar_resnet1202"]


def test_registry_holds_every_family_and_depth() -> None:
    names = set(list_models())
    for depth in (18, 34, 50, 101, 152):
        assert {f"resnet{depth}", f"resnet{depth}_v1", f"resnet{depth}_v2"} <= names
    for depth in (20, 32, 44, 56, 110, 1202):
        assert f"cifar_resnet{depth}" in names
    for depth in (11, 13, 16, 19):
        assert {f"vgg{depth}", f"vgg{depth}_bn"} <= names
    assert "cnn" in names
    assert list_models("resnet1*_v2") == ["resnet18_v2", "resnet101_v2", "resnet152_v2"]
    assert list_models(family="vgg")[:2] == ["vgg11", "vgg11_bn"]


@pytest.mark.parametrize("name", FORWARD_MODELS)
def test_forward_backward_every_model(name: str) -> None:
    torch.manual_seed(0)
    kwargs, side, stages = expected_stages(name)
    model = create_model(name, **kwargs)
    model.train()
    c_in = model_entry(name).input_size[0]
    assert [(f.num_chs, side // f.reduction) for f in model.feature_info] == stages

    seen: dict[str, tuple[int, ...]] = {}
    hooks = [
        model.get_submodule(f.module).register_forward_hook(
            lambda _m, _i, out, key=f.module: seen.__setitem__(key, tuple(out.shape))
        )
        for f in model.feature_info
    ]
    x = torch.randn(BATCH, c_in, side, side)
    out = model(x)
    for h in hooks:
        h.remove()
    num_classes = kwargs.get("num_classes", 1000 if side == 64 else 10)
    assert out.shape == (BATCH, num_classes)
    assert [seen[f.module] for f in model.feature_info] == [
        (BATCH, c, s, s) for c, s in stages
    ]
    assert torch.isfinite(out).all()

    out.logsumexp(dim=1).sum().backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"{name}: {pname} received no gradient"
        assert torch.isfinite(p.grad).all(), f"{name}: {pname} has a NaN/inf gradient"
        assert p.grad.abs().sum() > 0, f"{name}: {pname} has an all-zero gradient"


def test_unknown_name_lists_the_choices() -> None:
    with pytest.raises(ValueError, match=r"unknown model 'resnet51'") as err:
        create_model("resnet51")
    assert "did you mean" in str(err.value)
    assert "resnet50" in str(err.value) and "cifar_resnet20" in str(err.value)


def test_unknown_argument_lists_the_accepted_ones() -> None:
    with pytest.raises(ValueError, match="does not take argument") as err:
        create_model("resnet50_v1", version="2")  # the variant fixes the version
    assert "num_classes" in str(err.value)
    with pytest.raises(ValueError, match="accepts: shortcut"):
        create_model("cifar_resnet20", widht=2)


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("resnet18", {"version": "3"}, r"version must be one of \('1', '1.5', '2'\)"),
        ("cifar_resnet20", {"shortcut": "D"}, r"shortcut must be one of"),
        ("vgg16", {"input_size": 100}, r"input_size must be a multiple of 32"),
        ("cnn", {"kernel_size": 4}, r"kernel_size must be odd"),
    ],
)
def test_bad_values_raise_value_error(
    name: str, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        create_model(name, **kwargs)


def test_num_classes_reaches_the_head() -> None:
    for name in ("resnet18", "cifar_plain20", "vgg11", "cnn"):
        kwargs = {"input_size": 32} if name == "vgg11" else {}
        with torch.device("meta"):
            model = create_model(name, num_classes=7, **kwargs)
        head = model.get_submodule(model.classifier_name)
        assert isinstance(head, nn.Linear) and head.out_features == 7
