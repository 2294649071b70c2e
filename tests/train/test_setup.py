"""dlnotes.train.setup: the learning-rate schedule."""

from __future__ import annotations

import math

import pytest

from dlnotes.train.config import TrainConfig
from dlnotes.train.setup import lr_factor

# ---------------------------------------------------------------------------
# learning-rate schedule
# ---------------------------------------------------------------------------


def test_step_schedule_of_the_paper() -> None:
    # paper section 4.2: lr 0.1, divided by 10 at 32k and 48k iterations of 64k
    config = TrainConfig(epochs=64, milestones=[32000, 48000], milestones_unit="step")
    factors = [lr_factor(s, config, 64000) for s in (0, 31999, 32000, 47999, 48000)]
    assert factors == pytest.approx([1, 1, 0.1, 0.1, 0.01])
    by_epoch = TrainConfig(epochs=10, milestones=[5, 8])
    assert lr_factor(5 * 7 - 1, by_epoch, 70) == 1
    assert lr_factor(5 * 7, by_epoch, 70) == pytest.approx(0.1)
    default = TrainConfig(epochs=4)  # no milestones: 50% and 75% of training
    assert [lr_factor(s, default, 40) for s in (19, 20, 29, 30)] == pytest.approx(
        [1, 0.1, 0.1, 0.01]
    )


def test_cosine_schedule_and_warmup() -> None:
    config = TrainConfig(epochs=10, schedule="cosine")
    assert lr_factor(0, config, 100) == 1
    assert lr_factor(50, config, 100) == pytest.approx(0.5)
    assert lr_factor(100, config, 100) == pytest.approx(0.0, abs=1e-12)
    assert lr_factor(25, config, 100) == pytest.approx((1 + math.cos(math.pi / 4)) / 2)
    warm = TrainConfig(epochs=10, schedule="constant", warmup_steps=4)
    assert [lr_factor(s, warm, 100) for s in range(6)] == [0.25, 0.5, 0.75, 1, 1, 1]
    # cosine after a warm-up: the decay starts where the warm-up ends
    both = TrainConfig(epochs=1, schedule="cosine", warmup_steps=10)
    assert lr_factor(9, both, 110) == 1 and lr_factor(60, both, 110) == pytest.approx(
        0.5
    )
