"""Loading torchvision-style checkpoint files: round trip, wrappers, clear errors."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from torch import nn

from dlnotes.models import create_model
from dlnotes.models.torchvision_compat import (
    StateDictMismatchError,
    compare_state_dict,
    load_torchvision_checkpoint,
    read_state_dict,
)

ROOT = Path(__file__).resolve().parents[2]


def small_net(seed: int, name: str = "cifar_resnet20") -> nn.Module:
    torch.manual_seed(seed)
    return create_model(name, num_classes=10).eval()


def digest(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def outputs(model: nn.Module) -> torch.Tensor:
    torch.manual_seed(123)
    with torch.no_grad():
        return model(torch.randn(2, 3, 32, 32))


def test_round_trip_gives_identical_outputs(tmp_path: Path) -> None:
    source, target = small_net(0), small_net(1)
    path = tmp_path / "model-test.pth"
    torch.save(source.state_dict(), path)
    before = digest(path)
    assert not torch.allclose(outputs(source), outputs(target))
    load_torchvision_checkpoint(target, path)
    torch.testing.assert_close(outputs(target), outputs(source), rtol=0, atol=0)
    assert digest(path) == before  # the file is only read


def test_a_file_shaped_like_torchvision_resnet18_loads(tmp_path: Path) -> None:
    # Build a checkpoint from the shapes read off torchvision (no torchvision
    # here), save it as torchvision does, and load it into our v1.5 model.
    ref_path = ROOT / "tests/data/torchvision_resnet_state_dicts.json"
    ref = json.loads(ref_path.read_text(encoding="utf-8"))["models"]["resnet18"]
    torch.manual_seed(0)
    state = OrderedDict(
        (k, torch.randn(s) if s else torch.tensor(7))
        for k, s in ref["state_dict_shapes"].items()
    )
    path = tmp_path / "resnet18-f37072fd.pth"
    torch.save(state, path)
    model = create_model("resnet18")
    load_torchvision_checkpoint(model, path)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, state[key].to(value.dtype))


@pytest.mark.parametrize("wrapper", ["state_dict", "model"])
def test_wrapped_state_dict_and_module_prefix(tmp_path: Path, wrapper: str) -> None:
    source, target = small_net(0), small_net(1)
    state = {f"module.{k}": v for k, v in source.state_dict().items()}  # DDP
    path = tmp_path / "wrapped.pth"
    torch.save({wrapper: state, "epoch": 3}, path)
    load_torchvision_checkpoint(target, path)
    torch.testing.assert_close(outputs(target), outputs(source))


def test_missing_num_batches_tracked_is_tolerated(tmp_path: Path) -> None:
    # old torchvision files have no BN batch counters
    source, target = small_net(0), small_net(1)
    state = {
        k: v
        for k, v in source.state_dict().items()
        if not k.endswith("num_batches_tracked")
    }
    path = tmp_path / "old.pth"
    torch.save(state, path)
    load_torchvision_checkpoint(target, path)
    torch.testing.assert_close(outputs(target), outputs(source))


def test_errors_name_missing_unexpected_and_misshaped_keys(tmp_path: Path) -> None:
    torch.manual_seed(0)
    imagenet = create_model("resnet18")  # fc: 1000 classes
    state = dict(imagenet.state_dict())
    del state["layer3.1.bn2.running_var"]
    state["layer5.0.conv1.weight"] = torch.zeros(3)
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    target = small_net(1, "resnet18")  # fc: 10 classes
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(StateDictMismatchError) as err:
        load_torchvision_checkpoint(target, path)
    message = str(err.value)
    assert "bad.pth" in message
    assert "missing keys" in message and "layer3.1.bn2.running_var" in message
    assert "unexpected keys" in message and "layer5.0.conv1.weight" in message
    assert "fc.weight: checkpoint [1000, 512] vs model [10, 512]" in message
    assert "fc.bias: checkpoint [1000] vs model [10]" in message
    assert isinstance(err.value, ValueError)
    report = err.value.report
    assert report.missing == ["layer3.1.bn2.running_var"]
    assert report.unexpected == ["layer5.0.conv1.weight"]
    assert [k for k, _, _ in report.mismatched] == ["fc.weight", "fc.bias"]
    for key, value in target.state_dict().items():  # nothing was copied
        assert torch.equal(value, before[key]), key


def test_exclude_keeps_the_new_head(tmp_path: Path) -> None:
    torch.manual_seed(0)
    imagenet = create_model("resnet18")
    path = tmp_path / "resnet18.pth"
    torch.save(imagenet.state_dict(), path)
    target = small_net(1, "resnet18")
    fc_before = target.fc.weight.clone()
    load_torchvision_checkpoint(target, path, exclude=["fc."])
    assert torch.equal(target.fc.weight, fc_before)
    torch.testing.assert_close(target.conv1.weight, imagenet.conv1.weight)
    assert compare_state_dict(target, imagenet.state_dict(), exclude=["fc."]).ok


def test_not_a_checkpoint(tmp_path: Path) -> None:
    text = tmp_path / "notes.pth"
    text.write_text("这不是一个 checkpoint", encoding="utf-8")
    with pytest.raises(ValueError, match="is not a PyTorch checkpoint"):
        read_state_dict(text)
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        read_state_dict(tmp_path / "nowhere.pth")
    not_tensors = tmp_path / "list.pth"
    torch.save([1, 2, 3], not_tensors)
    with pytest.raises(ValueError, match="does not hold a state_dict"):
        read_state_dict(not_tensors)
    mixed = tmp_path / "mixed.pth"
    torch.save({"conv1.weight": torch.zeros(1), "epoch": 3}, mixed)
    with pytest.raises(ValueError, match=r"not tensors: \['epoch'\]"):
        read_state_dict(mixed)


class _Evil:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo pwned",))


def test_pickle_that_would_run_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.pth"
    with path.open("wb") as f:
        pickle.dump({"conv1.weight": _Evil()}, f, protocol=2)
    with pytest.raises(ValueError, match="weights_only=True"):
        read_state_dict(path)
