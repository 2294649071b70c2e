"""The machinery behind the lab notebooks: data, training loop, gradient norms."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch import nn

from dlnotes.labs import (
    History,
    deep_mlp,
    digits_split,
    few_shot,
    gradient_norms,
    markdown_table,
    place_at_random,
    seed_everything,
    smooth,
    train_classifier,
)
from dlnotes.models.cifar import cifar_plain, cifar_resnet
from dlnotes.train import TrainConfig, evaluate
from dlnotes.train.datasets import load_digits_data


@pytest.fixture(autouse=True)
def _restore_torch_state() -> Iterator[None]:
    """seed_everything changes global torch settings; put them back."""
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    yield
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(deterministic)


@pytest.fixture(scope="module")
def digits() -> object:
    return digits_split(8)


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------


def test_digits_split_shapes_and_stratified_disjoint_split() -> None:
    data = digits_split(16, test_fraction=0.25, seed=3)
    raw = load_digits()
    n = len(raw.target)
    assert data.x_train.shape[1:] == (1, 16, 16) and data.x_test.shape[1:] == (
        1,
        16,
        16,
    )
    assert len(data.x_train) + len(data.x_test) == n == 1797
    assert data.x_train.dtype == torch.float32 and data.y_train.dtype == torch.int64
    for digit in range(10):  # every class split 3:1 (stratified)
        total = int((raw.target == digit).sum())
        assert int((data.y_test == digit).sum()) == round(total * 0.25)
    # Standardised with the training statistics.
    assert abs(float(data.x_train.mean())) < 1e-4
    assert float(data.x_train.std()) == pytest.approx(1.0, abs=1e-3)


def test_digits_split_8x8_is_the_sklearn_data_standardised() -> None:
    data = digits_split(8, seed=0)
    raw = load_digits()
    pairs = {
        (img.astype(np.int64).tobytes(), int(t))
        for img, t in zip(raw.images, raw.target, strict=True)
    }
    restored = torch.round((data.x_train * data.std + data.mean) * 16).to(torch.int64)
    for img, label in zip(restored, data.y_train, strict=True):
        assert (img[0].numpy().tobytes(), int(label)) in pairs


def test_digits_split_train_and_test_do_not_overlap() -> None:
    data = digits_split(8)
    train = {x.numpy().tobytes() for x in data.x_train}
    test_only = [x for x in data.x_test if x.numpy().tobytes() not in train]
    # load_digits has a few exact duplicate images; almost all test images are new.
    assert len(test_only) >= len(data.x_test) - 5


def test_digits_split_subset_relabels_and_uses_given_statistics() -> None:
    raw = load_digits()
    data = digits_split(8, classes=(7, 3), mean=0.25, std=0.5)
    assert data.classes == (7, 3) and data.num_classes == 2
    assert set(data.y_train.tolist()) == {0, 1}
    n7, n3 = int((raw.target == 7).sum()), int((raw.target == 3).sum())
    counts = torch.bincount(torch.cat([data.y_train, data.y_test]), minlength=2)
    assert counts.tolist() == [n7, n3]  # label 0 is digit 7, label 1 is digit 3
    assert data.mean == 0.25 and data.std == 0.5
    assert float(torch.cat([data.x_train, data.x_test]).min()) == pytest.approx(
        data.background
    )
    assert data.background == pytest.approx(-0.5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"image_size": 4}, "image_size"),
        ({"classes": (1, 1)}, "classes"),
        ({"classes": (10,)}, "classes"),
        ({"test_fraction": 1.0}, "test_fraction"),
        ({"mean": 0.1}, "mean and std"),
        ({"mean": 0.1, "std": 0.0}, "std"),
    ],
)
def test_digits_split_rejects_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        digits_split(**kwargs)


def test_few_shot_takes_k_per_class_deterministically(digits) -> None:
    x, y = few_shot(digits.x_train, digits.y_train, 3, seed=7)
    assert torch.bincount(y, minlength=10).tolist() == [3] * 10
    x2, y2 = few_shot(digits.x_train, digits.y_train, 3, seed=7)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    x3, _ = few_shot(digits.x_train, digits.y_train, 3, seed=8)
    assert not torch.equal(x, x3)
    # Every picked example is a training example with its own label.
    index = {
        xi.numpy().tobytes(): int(yi)
        for xi, yi in zip(digits.x_train, digits.y_train, strict=True)
    }
    assert all(
        index[xi.numpy().tobytes()] == int(yi) for xi, yi in zip(x, y, strict=True)
    )
    with pytest.raises(ValueError, match="per_class"):
        few_shot(digits.x_train[:20], digits.y_train[:20], 50)


def test_place_at_random_pastes_each_image_once() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(6, 2, 3, 4, generator=g) + 1.0  # values in [1, 2): not the fill
    out = place_at_random(x, 9, fill=-1.0, seed=5)
    assert out.shape == (6, 2, 9, 9)
    for img, canvas in zip(x, out, strict=True):
        found = [
            (r, c)
            for r in range(9 - 3 + 1)
            for c in range(9 - 4 + 1)
            if torch.equal(canvas[:, r : r + 3, c : c + 4], img)
        ]
        assert len(found) == 1
        r, c = found[0]
        rest = canvas.clone()
        rest[:, r : r + 3, c : c + 4] = -1.0
        assert torch.all(rest == -1.0)  # the fill everywhere else
    assert torch.equal(out, place_at_random(x, 9, fill=-1.0, seed=5))
    with pytest.raises(ValueError, match="canvas_size"):
        place_at_random(x, 3)


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------


def test_digits_split_is_the_engine_digits_split() -> None:
    """One loader: the lab tensors hold the engine's images, split alike."""
    lab = digits_split(8, test_fraction=0.2, seed=4)
    engine = load_digits_data(image_size=8, in_channels=1, test_fraction=0.2, seed=4)
    for x, data in ((lab.x_train, engine.train), (lab.x_test, engine.test)):
        raw = x * lab.std + lab.mean  # undo the standardisation
        torch.testing.assert_close(raw, data.images, atol=1e-6, rtol=0)
    assert torch.equal(lab.y_train, engine.train.labels)
    assert torch.equal(lab.y_test, engine.test.labels)


@pytest.mark.parametrize("kwargs", [{"steps": 0}, {"steps": 5, "eval_every": -1}])
def test_train_classifier_rejects_bad_lengths(digits, kwargs: dict) -> None:
    with pytest.raises(ValueError, match=r"steps|eval_every"):
        train_classifier(
            _mlp(), digits.x_train, digits.y_train, TrainConfig(), **kwargs
        )


def test_the_schedule_is_the_engines_over_the_steps(digits) -> None:
    """Each step's learning rate is lr x lr_factor(step, config, steps)."""
    from dlnotes.train.setup import lr_factor

    config = TrainConfig(lr=0.2, warmup_steps=3, schedule="cosine", momentum=0)
    seen: list[float] = []

    class Spy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = _mlp()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            seen.append(opt_lr())
            return self.net(x)

    model = Spy()
    groups = [{"params": list(model.parameters()), "lr": 0.2}]

    def opt_lr() -> float:
        return float(groups[0]["lr"])

    train_classifier(
        model, digits.x_train, digits.y_train, config, steps=10, params=groups
    )
    expected = [0.2 * lr_factor(s, config, 10) for s in range(10)]
    assert seen == pytest.approx(expected)
    assert seen[0] == pytest.approx(0.2 / 3) and seen[-1] < seen[3]


def _mlp() -> nn.Module:
    return deep_mlp(3, 32, in_features=64, num_classes=10)


def test_twenty_steps_decrease_the_loss_and_are_deterministic(digits) -> None:
    cfg = TrainConfig(batch_size=64, lr=0.05, schedule="cosine")
    runs = []
    for _ in range(2):
        seed_everything(0)
        net = _mlp()
        before = evaluate(net, (digits.x_train, digits.y_train)).loss
        hist = train_classifier(
            net,
            digits.x_train,
            digits.y_train,
            cfg,
            steps=20,
            eval_every=10,
            x_eval=digits.x_test,
            y_eval=digits.y_test,
        )
        after = evaluate(net, (digits.x_train, digits.y_train)).loss
        runs.append(hist)
    assert after < 0.7 * before
    assert len(hist.loss) == len(hist.error) == 20 and not hist.diverged
    assert hist.eval_step == [10, 20] and all(0 <= e <= 1 for e in hist.eval_error)
    assert runs[0].loss == runs[1].loss  # same seed, same batches, same numbers
    assert hist.final_error(5) == pytest.approx(float(np.mean(hist.error[-5:])))


def test_divergence_stops_the_run(digits) -> None:
    seed_everything(0)
    net = deep_mlp(6, 64, in_features=64, num_classes=10, gain=3.0)
    hist = train_classifier(
        net, digits.x_train, digits.y_train, TrainConfig(lr=1e4), steps=50
    )
    assert hist.diverged and len(hist.loss) < 50
    assert math.isnan(hist.final_error())


def test_param_groups_keep_their_ratio_and_frozen_parameters_stay(digits) -> None:
    seed_everything(0)
    net = _mlp()
    first = net[1].linear.weight
    before = first.detach().clone()
    head = list(net[-1].parameters())
    rest = [p for p in net.parameters() if all(p is not h for h in head)]
    groups = [{"params": head, "lr": 0.1}, {"params": rest, "lr": 0.0}]
    head_before = net[-1].weight.detach().clone()
    cfg = TrainConfig(schedule="cosine")
    train_classifier(net, digits.x_train, digits.y_train, cfg, steps=3, params=groups)
    assert torch.equal(first, before)  # lr 0 (0 * schedule): unchanged
    assert not torch.equal(net[-1].weight, head_before)  # the head did train


def test_evaluate_matches_a_manual_computation_and_restores_mode(digits) -> None:
    seed_everything(0)
    net = deep_mlp(3, 16, in_features=64, num_classes=10, batch_norm=True)
    net.train()
    result = evaluate(net, (digits.x_test, digits.y_test), batch_size=100)
    assert net.training and all(m.training for m in net.modules())
    net.eval()
    with torch.no_grad():
        logits = net(digits.x_test)
    assert result.count == len(digits.y_test)
    assert result.loss == pytest.approx(
        float(F.cross_entropy(logits, digits.y_test)), rel=1e-5
    )
    assert result.accuracy == pytest.approx(
        float((logits.argmax(1) == digits.y_test).float().mean())
    )
    # the same numbers from an iterable of batches, with a preparation step
    batches = zip(digits.x_test.split(7), digits.y_test.split(7), strict=True)
    again = evaluate(net, ((2 * x, y) for x, y in batches), prepare=lambda x: x / 2)
    assert again.loss == pytest.approx(result.loss, rel=1e-6)
    assert again.correct == result.correct


def test_smooth_is_a_trailing_mean() -> None:
    v = [1.0, 3.0, 5.0, 7.0, 9.0]
    assert smooth(v, 2).tolist() == [1.0, 2.0, 4.0, 6.0, 8.0]
    assert smooth(v, 1).tolist() == v
    assert smooth(v, 10)[-1] == pytest.approx(5.0)
    with pytest.raises(ValueError, match="window"):
        smooth(v, 0)


def test_history_final_error_of_an_empty_run_is_nan() -> None:
    assert math.isnan(History().final_error())


def test_markdown_table() -> None:
    text = markdown_table(("a", "b"), [(1, 0.5), ("x", 2.0)])
    assert text.splitlines() == [
        "| a | b |",
        "|---|---|",
        "| 1 | 0.500 |",
        "| x | 2.000 |",
    ]
    with pytest.raises(ValueError, match="cells"):
        markdown_table(("a", "b"), [(1,)])


# ---------------------------------------------------------------------------
# Gradient norms and the deep MLP
# ---------------------------------------------------------------------------


def test_gradient_norms_of_a_linear_model_match_the_formula() -> None:
    """softmax regression: dL/dW = (softmax(XW^T) - onehot(y))^T X / N (NumPy)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, 5))
    w = rng.normal(size=(3, 5))
    y = rng.integers(0, 3, size=7)
    logits = x @ w.T
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    p[np.arange(7), y] -= 1.0
    expected = np.linalg.norm(p.T @ x / 7)
    net = nn.Linear(5, 3, bias=False).double()
    with torch.no_grad():
        net.weight.copy_(torch.from_numpy(w))
    norms = gradient_norms(net, torch.from_numpy(x), torch.from_numpy(y))
    assert list(norms) == [""] and norms[""] == pytest.approx(expected, rel=1e-12)


def test_gradient_norms_match_autograd_one_per_layer_in_order() -> None:
    torch.manual_seed(0)
    net = deep_mlp(5, 8, in_features=6, num_classes=4, batch_norm=True).double()
    x = torch.randn(16, 6, dtype=torch.float64)
    y = torch.randint(0, 4, (16,))
    norms = gradient_norms(net, x, y)
    assert list(norms) == ["1.linear", "2.linear", "3.linear", "4.linear", "5"]
    F.cross_entropy(net(x), y).backward()
    manual = [
        m.weight.grad.norm().item() for m in net.modules() if isinstance(m, nn.Linear)
    ]
    assert list(norms.values()) == pytest.approx(manual, rel=1e-12)
    net.zero_grad(set_to_none=True)
    gradient_norms(net, x, y)
    assert all(p.grad is None for p in net.parameters())  # leaves no gradients


@pytest.mark.parametrize("build", [cifar_plain, cifar_resnet])
def test_gradient_norms_of_a_cifar_net_cover_its_6n_plus_2_layers(build) -> None:
    torch.manual_seed(0)
    net = build(14, num_classes=10, in_channels=1)  # option A: no extra convs
    norms = gradient_norms(net, torch.randn(4, 1, 8, 8), torch.tensor([0, 1, 2, 3]))
    assert len(norms) == 14 and list(norms)[::13] == ["conv1", "fc"]
    assert all(math.isfinite(v) and v > 0 for v in norms.values())


def test_gradient_norms_need_a_weighted_layer() -> None:
    with pytest.raises(ValueError, match="no layer"):
        gradient_norms(
            nn.Sequential(nn.Flatten()), torch.randn(2, 3), torch.tensor([0, 1])
        )


def test_deep_mlp_structure_and_init_scale() -> None:
    torch.manual_seed(0)
    net = deep_mlp(6, 256, in_features=64, num_classes=10, gain=2.0)
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 6
    assert [lin.in_features for lin in linears] == [64, 256, 256, 256, 256, 256]
    hidden = linears[2].weight.detach()
    assert float(hidden.std()) == pytest.approx(2.0 / 16.0, rel=0.02)
    assert net(torch.randn(3, 1, 8, 8)).shape == (3, 10)
    res = deep_mlp(4, 8, in_features=8, num_classes=2, residual=True, batch_norm=True)
    block = res[2]
    h = torch.randn(5, 8)
    block.eval()
    assert torch.allclose(block(h), h + block.act(block.bn(block.linear(h))))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"depth": 1}, "depth"),
        ({"activation": "gelu"}, "activation"),
        ({"gain": 0.0}, "gain"),
    ],
)
def test_deep_mlp_rejects_bad_arguments(kwargs: dict, match: str) -> None:
    args = {"depth": 3, "width": 4, "in_features": 4, "num_classes": 2} | kwargs
    with pytest.raises(ValueError, match=match):
        deep_mlp(**args)


def test_seed_everything_makes_inits_repeat() -> None:
    seed_everything(3)
    a = deep_mlp(3, 8, in_features=4, num_classes=2)[1].linear.weight.clone()
    seed_everything(3)
    b = deep_mlp(3, 8, in_features=4, num_classes=2)[1].linear.weight
    assert torch.equal(a, b)
    assert torch.get_num_threads() == 1 and torch.are_deterministic_algorithms_enabled()
    with pytest.raises(ValueError, match="threads"):
        seed_everything(0, threads=0)
