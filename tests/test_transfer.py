"""Transfer-learning utilities: freezing (and its BN rule), heads, features,
learning-rate groups, preprocessing in checkpoints, and the advice table."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dlnotes.models import create_model
from dlnotes.train.checkpoint import UnverifiedCheckpointWarning
from dlnotes.transfer import (
    IMAGENET_PREPROCESSING,
    FrozenBatchNorm2d,
    PreprocessedModel,
    Preprocessing,
    count_parameters,
    extract_features,
    forward_features,
    freeze,
    load_checkpoint,
    load_pretrained,
    param_groups,
    replace_head,
    save_checkpoint,
    transfer_advice,
    unfreeze,
)


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    threads = torch.get_num_threads()  # tiny tensors: one thread is much faster
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def net(seed: int = 0, **kwargs: object) -> nn.Module:
    torch.manual_seed(seed)
    return create_model("cifar_resnet20", **kwargs)


def batch(n: int = 8, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, 32, 32, generator=g), torch.randint(
        0, 4, (n,), generator=g
    )


def snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_frozen_parameters_do_not_move_while_the_head_does() -> None:
    model = net()
    replace_head(model, 4)
    freeze(model, exclude=["fc"])
    before = snapshot(model)
    opt = torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad], lr=0.1, momentum=0.9
    )
    model.train()
    for _ in range(2):
        x, y = batch()
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"fc.weight", "fc.bias"}  # BN running stats included
    assert all(p.grad is None for n, p in model.named_parameters() if "fc" not in n)


def test_frozen_bn_stays_in_eval_mode_after_train() -> None:
    model = net()
    freeze(model.layer1)
    model.train()  # the usual call at the start of an epoch
    bns = [m for m in model.layer1.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns and all(isinstance(m, FrozenBatchNorm2d) for m in bns)
    assert all(not m.training for m in bns)
    assert all(not p.requires_grad for m in bns for p in m.parameters())
    assert model.layer2[0].bn1.training  # not frozen: trains normally
    stats = {
        k: v.clone() for k, v in model.layer1.state_dict().items() if "running" in k
    }
    model(batch()[0])  # a forward pass in train mode
    for k, v in model.layer1.state_dict().items():
        if "running" in k:
            assert torch.equal(v, stats[k]), k
    assert not torch.equal(
        model.layer2[0].bn1.running_mean, torch.zeros(32)
    )  # the trainable BN did update


def test_frozen_bn_normalises_with_running_statistics() -> None:
    bn = nn.BatchNorm2d(3)
    bn.running_mean.fill_(1.0)
    bn.running_var.fill_(4.0)
    freeze(bn)
    bn.train()
    x = torch.randn(4, 3, 2, 2)
    torch.testing.assert_close(
        bn(x), (x - 1.0) / torch.sqrt(torch.tensor(4.0) + bn.eps)
    )


def test_freeze_keeps_state_dict_and_survives_deepcopy() -> None:
    model = net()
    keys = list(model.state_dict())
    freeze(model)
    assert list(model.state_dict()) == keys
    clone = copy.deepcopy(model)
    clone.train()
    assert not clone.bn1.training
    assert count_parameters(model, trainable=True) == 0
    assert count_parameters(model, trainable=False) == count_parameters(model)


def test_unfreeze_restores_training() -> None:
    model = net()
    freeze(model)
    model.train()
    unfreeze(model)
    assert type(model.bn1) is nn.BatchNorm2d
    assert model.bn1.training
    assert all(p.requires_grad for p in model.parameters())


def test_freeze_rejects_unknown_exclude() -> None:
    with pytest.raises(ValueError, match="has no 'head'"):
        freeze(net(), exclude=["head"])


@pytest.mark.parametrize(
    ("name", "kwargs", "attr"),
    [
        ("cifar_resnet20", {}, "fc"),
        ("vgg11", {"input_size": 32, "hidden_features": 16}, "classifier.6"),
        ("cnn", {}, "fc"),
    ],
)
def test_replace_head(name: str, kwargs: dict[str, object], attr: str) -> None:
    torch.manual_seed(0)
    model = create_model(name, **kwargs).eval()
    old = model.get_submodule(attr)
    new = replace_head(model, 3)
    assert model.get_submodule(attr) is new
    assert isinstance(new, nn.Linear)
    assert (new.in_features, new.out_features) == (old.in_features, 3)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 3)
    replace_head(model, 0)  # the head removed: the model returns its features
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, old.in_features)
    replace_head(model, 5)  # and a new one can go back
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 5)
    with pytest.raises(ValueError, match="num_classes must be >= 0"):
        replace_head(model, -1)


def test_extract_features_equals_pooled_forward_features() -> None:
    model = net().train()
    x = torch.randn(10, 3, 32, 32)
    loader = [(x[:4], torch.zeros(4)), (x[4:], torch.zeros(6))]
    feats = extract_features(model, loader)
    assert feats.shape == (10, 64)
    assert model.training  # mode restored
    model.eval()
    with torch.no_grad():
        expected = model.forward_head(model.forward_features(x), pre_logits=True)
    torch.testing.assert_close(feats, expected)
    torch.testing.assert_close(extract_features(model, x, batch_size=3), expected)


def test_earlier_layer_features() -> None:
    model = net().eval()
    x = torch.randn(2, 3, 32, 32)
    feats = forward_features(model, x, layer="layer2", pool=False)
    with torch.no_grad():
        expected = model.layer2(model.layer1(model.relu(model.bn1(model.conv1(x)))))
    torch.testing.assert_close(feats, expected)
    assert forward_features(model, x, layer="layer2").shape == (2, 32)
    with pytest.raises(ValueError, match="layer must name a sub-module"):
        forward_features(model, x, layer="layer9")


def test_param_groups_learning_rates() -> None:
    model = net()
    groups = param_groups(model, lr=0.01, backbone_lr_mult=0.1)
    by_name = {g["name"]: g for g in groups}
    assert by_name["head"]["lr"] == 0.01
    assert by_name["backbone"]["lr"] == pytest.approx(0.001)
    head_ids = {id(p) for p in model.fc.parameters()}
    assert {id(p) for p in by_name["head"]["params"]} == head_ids
    n_all = sum(p.numel() for g in groups for p in g["params"])
    assert n_all == count_parameters(model)
    opt = torch.optim.SGD(groups, lr=1.0)
    assert [g["lr"] for g in opt.param_groups] == [0.01, pytest.approx(0.001)]
    freeze(model.layer1)  # frozen parameters are left out
    n_trainable = sum(
        p.numel() for g in param_groups(model, lr=0.01) for p in g["params"]
    )
    assert n_trainable == count_parameters(model, trainable=True) < n_all


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lr": 0.0}, "lr must be a positive number"),
        ({"lr": 0.1, "backbone_lr_mult": -1.0}, "backbone_lr_mult must be >= 0"),
        ({"lr": 0.1, "head": "layer9"}, "head 'layer9' has no trainable parameters"),
    ],
)
def test_param_groups_bad_input(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        param_groups(net(), **kwargs)  # type: ignore[arg-type]


def test_preprocessing_resize_crop_normalise() -> None:
    prep = Preprocessing(
        input_size=(4, 4), mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25), resize_size=8
    )
    img = torch.rand(3, 8, 12)  # H=8 is already the shorter side: no resize
    out = prep(img)
    assert out.shape == (1, 3, 4, 4)
    torch.testing.assert_close(out[0], (img[:, 2:6, 4:8] - 0.5) / 0.25)
    u8 = (img * 255).round().to(torch.uint8)
    torch.testing.assert_close(
        prep(u8), (u8[:, 2:6, 4:8].float() / 255 - 0.5)[None] / 0.25
    )
    # no resize_size: straight to input_size; nearest picks rows 0, 2, cols 0, 3
    nearest = Preprocessing(
        input_size=(2, 2), mean=(0.0,), std=(1.0,), interpolation="nearest"
    )
    x = torch.arange(24.0).reshape(1, 1, 4, 6)
    torch.testing.assert_close(nearest(x), x[..., ::2, ::3])
    # bilinear (antialiased) resizing keeps a constant image constant
    smooth = Preprocessing(input_size=(3, 3), mean=(0.0,), std=(2.0,), resize_size=5)
    torch.testing.assert_close(
        smooth(torch.full((1, 1, 10, 10), 0.8)), torch.full((1, 1, 3, 3), 0.4)
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"interpolation": "area"}, r"interpolation must be one of \('nearest'"),
        ({"std": (1.0, 0.0, 1.0)}, "std must be > 0"),
        ({"mean": (0.5,)}, "one value per channel"),
        ({"resize_size": 100}, "resize_size must be >= the crop"),
    ],
)
def test_preprocessing_validation(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {
        "input_size": (224, 224),
        "mean": (0.485, 0.456, 0.406),
        "std": (0.229, 0.224, 0.225),
    }
    with pytest.raises(ValueError, match=message):
        Preprocessing(**(args | kwargs))  # type: ignore[arg-type]


def test_checkpoint_restores_and_applies_preprocessing(tmp_path: Path) -> None:
    prep = Preprocessing(input_size=(32, 32), mean=(0.4, 0.5, 0.6), std=(0.2, 0.3, 0.4))
    model = net(num_classes=4).eval()
    path = tmp_path / "runs" / "digits.pt"
    save_checkpoint(
        path, model, prep, model_name="cifar_resnet20", model_kwargs={"num_classes": 4}
    )
    assert [p.name for p in path.parent.iterdir()] == ["digits.pt"]  # no temp left
    ckpt = load_checkpoint(path)
    assert ckpt.preprocessing == prep
    assert ckpt.model_name == "cifar_resnet20"

    reused = load_pretrained(path).eval()
    assert isinstance(reused, PreprocessedModel)
    assert reused.preprocessing == prep
    raw = torch.rand(2, 3, 40, 40)  # raw images in [0, 1], another size
    with torch.no_grad():
        expected = model(prep(raw))
        torch.testing.assert_close(reused(raw), expected)
        mean = torch.tensor(prep.mean)[:, None, None]
        std = torch.tensor(prep.std)[:, None, None]
        by_hand = (
            F.interpolate(raw, size=(32, 32), mode="bilinear", antialias=True) - mean
        ) / std
        torch.testing.assert_close(reused(raw), model(by_hand))
        assert not torch.allclose(model(F.interpolate(raw, size=(32, 32))), expected)


def test_save_is_atomic_and_overwrites(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "m.pt"
    model = net()
    save_checkpoint(path, model, IMAGENET_PREPROCESSING)
    good = path.read_bytes()

    def crash(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, net(seed=5), IMAGENET_PREPROCESSING)
    assert path.read_bytes() == good  # the old checkpoint is intact
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]  # temp file removed


def test_load_checkpoint_rejects_other_files(tmp_path: Path) -> None:
    plain = tmp_path / "plain.pt"
    torch.save(net().state_dict(), plain)  # a plain torch file: no checksum either
    with (
        pytest.warns(UnverifiedCheckpointWarning),
        pytest.raises(ValueError, match="not a dlnotes transfer checkpoint"),
    ):
        load_checkpoint(plain)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        load_checkpoint(junk)


def test_transfer_advice_table() -> None:
    table = {
        (size, sim): transfer_advice(size, sim).strategy
        for size in ("small", "large")
        for sim in ("similar", "different")
    }
    assert table == {
        ("small", "similar"): "linear-classifier-on-top-features",
        ("large", "similar"): "fine-tune",
        ("small", "different"): "classifier-on-earlier-features",
        ("large", "different"): "fine-tune-or-from-scratch",
    }
    with pytest.raises(
        ValueError, match=r"dataset_size must be one of \('small', 'large'\)"
    ):
        transfer_advice("medium", "similar")
    with pytest.raises(
        ValueError, match=r"similarity must be one of \('similar', 'different'\)"
    ):
        transfer_advice("small", "same")


def test_transfer_page_table_matches_transfer_advice() -> None:
    page = Path(__file__).resolve().parents[1] / "docs/transfer/index.md"
    text = page.read_text(encoding="utf-8")
    for size in ("small", "large"):
        for sim in ("similar", "different"):
            strategy = transfer_advice(size, sim).strategy
            assert f"`{strategy}`" in text, strategy
    rows = [line for line in text.splitlines() if line.startswith("| 数据集")]
    assert rows, "the advice table is missing"
    small = next(line for line in text.splitlines() if line.startswith("| **小**"))
    large = next(line for line in text.splitlines() if line.startswith("| **大**"))
    assert small.index("`linear-classifier-on-top-features`") < small.index(
        "`classifier-on-earlier-features`"
    )
    assert large.index("`fine-tune`") < large.index("`fine-tune-or-from-scratch`")


def test_preprocessing_comes_from_the_registry_entry() -> None:
    from dlnotes.models import model_entry
    from dlnotes.transfer import preprocessing_for

    assert preprocessing_for("resnet18") == IMAGENET_PREPROCESSING
    assert IMAGENET_PREPROCESSING.resize_size == 256
    assert IMAGENET_PREPROCESSING.input_size == (224, 224)
    cifar = preprocessing_for("cifar_resnet20")
    cfg = model_entry("cifar_resnet20").data_config
    assert cifar.mean == cfg.mean and cifar.std == cfg.std
    assert cifar.input_size == (32, 32) and cifar.resize_size is None
    x = torch.rand(1, 3, 40, 48)
    assert cifar(x).shape == (1, 3, 32, 32)
    with pytest.raises(ValueError, match="unknown model"):
        preprocessing_for("resnet51")
