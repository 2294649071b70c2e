"""Every registered model: stage shapes, gradients, no NaN; entries; errors."""

from __future__ import annotations

import dataclasses
import inspect

import pytest
import torch
from torch import nn

import dlnotes.models as models_pkg
from dlnotes.models import (
    DIGITS_DATA,
    DataConfig,
    create_model,
    list_models,
    model_entry,
    register_model,
)
from dlnotes.train.config import TrainConfig

BATCH = 2


def expected_stages(
    name: str,
) -> tuple[dict[str, object], int, list[tuple[int, int]], list[int] | None]:
    """(builder kwargs, input side, [(channels, side) per stage], reductions).

    Written from the architecture tables (ResNet Table 1, CIFAR section 4.2,
    VGG Table 1, the cs231n pattern, LeNet-5 Fig. 2, AlexNet, NiN, GoogLeNet
    Table 1, DenseNet Table 1), not from the models' own attributes.
    ``reductions`` (cumulative strides) is None where it is input / output side.
    """
    family = model_entry(name).family
    if family == "resnet":
        depth = int(name.removeprefix("resnet").split("_")[0])
        e = 4 if depth >= 50 else 1
        side = 64  # strides 4, 8, 16, 32 -> 16, 8, 4, 2
        stages = [(64 * e, 16), (128 * e, 8), (256 * e, 4), (512 * e, 2)]
        return {}, side, stages, None
    if family == "cifar":
        return {}, 32, [(16, 32), (32, 16), (64, 8)], None
    if family == "vgg":
        stages = [(64, 16), (128, 8), (256, 4), (512, 2), (512, 1)]
        return {"input_size": 32, "num_classes": 10}, 32, stages, None
    if family == "cnn":
        kwargs = {"channels": (8, 12), "hidden_features": (20,), "input_size": 16}
        return kwargs, 16, [(8, 8), (12, 4)], None
    if family == "lenet":  # 32 -C1-> 28 -S2-> 14 -C3-> 10 -S4-> 5 (valid convs)
        return {}, 32, [(6, 14), (16, 5)], [2, 4]
    if family == "alexnet":  # 64 -conv 11/4 p2-> 15 -pool-> 7 -> 3 -> 1
        return {"num_classes": 10}, 64, [(64, 7), (192, 3), (256, 1)], [8, 16, 32]
    if family == "nin":  # 96 -conv 11/4-> 22 -pool-> 10 -> 4 -> 1
        return {"num_classes": 10}, 96, [(96, 10), (256, 4), (384, 1)], [8, 16, 32]
    if family == "googlenet":  # ceil-mode pools: 32 -> 16 -> 8 -> 4 -> 2 -> 1
        stages = [(192, 8), (480, 4), (832, 2), (1024, 1)]
        return {"num_classes": 10}, 32, stages, None
    if family == "densenet":  # Table 1: k, layers per block, stem width
        k, blocks, c = {
            "densenet121": (32, (6, 12, 24, 16), 64),
            "densenet161": (48, (6, 12, 36, 24), 96),
            "densenet169": (32, (6, 12, 32, 32), 64),
            "densenet201": (32, (6, 12, 48, 32), 64),
        }[name]
        stages, side = [], 8  # the stem takes 32x32 to 8x8
        for i, layers in enumerate(blocks):
            c += layers * k
            stages.append((c, side))
            if i < 3:
                c, side = c // 2, side // 2  # transition: compression 0.5, pool
        return {"num_classes": 10}, 32, stages, None
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
    kwargs, side, stages, reductions = expected_stages(name)
    model = create_model(name, **kwargs)
    model.train()
    c_in = model_entry(name).input_size[0]
    if reductions is None:
        reductions = [side // s for _, s in stages]
    assert [(f.num_chs, f.reduction) for f in model.feature_info] == [
        (c, r) for (c, _), r in zip(stages, reductions, strict=True)
    ]

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


@pytest.mark.parametrize("name", list_models())
def test_every_entry_is_a_public_builder_with_a_complete_config(name: str) -> None:
    entry = model_entry(name)
    builder = entry.builder
    module = inspect.getmodule(builder)
    assert module is not None and getattr(module, name) is builder, (
        f"{name}: the registered builder is not the public function {name}()"
    )
    assert entry.description and builder.__doc__
    params = inspect.signature(builder).parameters.values()
    assert all(p.kind is p.KEYWORD_ONLY for p in params), name
    assert all(p.default is not p.empty for p in params), name
    # the data config fits the model: its channels, and a forward pass at its size
    cfg = entry.data_config
    assert isinstance(cfg, DataConfig)
    c, h, w = cfg.input_size
    assert len(cfg.mean) == len(cfg.std) == c
    if name in FORWARD_MODELS:  # 1202 layers take long even on the meta device
        with torch.device("meta"):
            out = create_model(name)(torch.empty(1, c, h, w))
        num_classes = inspect.signature(builder).parameters["num_classes"].default
        assert out.shape == (1, num_classes)
    # train_defaults are TrainConfig fields with values it accepts
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    assert set(entry.train_defaults) <= fields, set(entry.train_defaults) - fields
    TrainConfig(model=name, **entry.train_defaults)  # validates every value


def test_builders_are_the_registered_entries_and_exported() -> None:
    assert model_entry("resnet18").builder is models_pkg.resnet18
    net = models_pkg.resnet50(num_classes=7)
    assert net.fc.out_features == 7
    assert model_entry("resnet50").accepted_kwargs() == [
        "version",
        "num_classes",
        "in_channels",
        "zero_init_residual",
    ]


def test_imagenet_config_is_torchvisions_eval_transform() -> None:
    cfg = model_entry("resnet50").data_config
    assert cfg.input_size == (3, 224, 224)
    assert cfg.resize_size == 256  # resize 256, centre crop 224
    assert cfg.mean == (0.485, 0.456, 0.406) and cfg.std == (0.229, 0.224, 0.225)
    assert model_entry("cifar_resnet20").data_config.resize_size is None


def test_digits_config_matches_the_training_data() -> None:
    from dlnotes.train.datasets import load_digits_data

    bundle = load_digits_data(image_size=32, in_channels=3)
    x = torch.cat([bundle.train.images, bundle.test.images])
    assert x.shape[1:] == DIGITS_DATA.input_size
    mean, std = x.mean().item(), x.std().item()
    assert (
        abs(mean - DIGITS_DATA.mean[0]) < 1e-3 and abs(std - DIGITS_DATA.std[0]) < 1e-3
    )


def test_register_model_refuses_bad_builders() -> None:
    def needs_an_argument(depth: int) -> nn.Module:
        return nn.Identity()

    def takes_kwargs(**kwargs: object) -> nn.Module:
        return nn.Identity()

    decorate = register_model(family="test", data_config=DIGITS_DATA)
    with pytest.raises(ValueError, match="'depth' needs a default"):
        decorate(needs_an_argument)
    with pytest.raises(ValueError, match="named keyword argument"):
        decorate(takes_kwargs)
    with pytest.raises(ValueError, match="already registered"):
        decorate(models_pkg.resnet18)
    assert "needs_an_argument" not in list_models()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"input_size": (3, 32)}, "input_size must be"),
        ({"mean": (0.5,)}, "mean and std must have one value per channel"),
        ({"mean": (0.5,), "std": (0.5,)}, "mean and std must have 3 values"),
        ({"std": (1.0, 0.0, 1.0)}, "std must be > 0"),
        ({"interpolation": "cubic"}, "interpolation must be one of"),
        ({"crop_pct": 1.5}, r"crop_pct must be in \(0, 1\]"),
    ],
)
def test_data_config_refuses_bad_values(
    kwargs: dict[str, object], message: str
) -> None:
    args: dict[str, object] = {
        "input_size": (3, 32, 32),
        "mean": (0.5,) * 3,
        "std": (0.25,) * 3,
    }
    with pytest.raises(ValueError, match=message):
        DataConfig(**(args | kwargs))  # type: ignore[arg-type]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "epochs", "min_acc"), [("cnn", 3, 0.9)])
def test_train_defaults_make_the_model_learn_digits(
    name: str, epochs: int, min_acc: float, tmp_path
) -> None:
    """``dlnotes train --model NAME`` with the entry's defaults learns digits
    (the global defaults leave the small ``cnn`` at chance, 10 %)."""
    from dlnotes.train.loop import train

    defaults = dict(model_entry(name).train_defaults)
    config = TrainConfig(
        model=name,
        **(defaults | {"epochs": epochs}),
        out_dir=str(tmp_path),
        progress=False,
        plot=False,
        checkpoint_every_epochs=0,
    )
    result = train(config)
    accuracy = result.history[-1]["test_acc"]
    assert accuracy >= min_acc, result.history
