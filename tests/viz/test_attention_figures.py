"""The attention figures render and what they show holds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dlnotes.numpy.attention import MultiHeadAttention
from dlnotes.viz.attention import mean_max_weight
from tests.support.figures import assert_renders_png


@pytest.mark.parametrize("name", ["attention-scaling", "attention-causal-heads"])
def test_figure_is_registered_and_renders_a_png(name: str, tmp_path: Path) -> None:
    assert_renders_png(name, tmp_path)


def test_unscaled_scores_saturate_and_scaled_ones_do_not() -> None:
    assert mean_max_weight(256, scaled=False) > 0.85  # nearly one-hot rows
    assert mean_max_weight(256, scaled=True) < 0.35
    # scaled: independent of d_k (variance 1 whatever the dimension)
    assert abs(mean_max_weight(4, True) - mean_max_weight(512, True)) < 0.06


def test_head_weights_are_causal_and_average_to_the_returned_weights() -> None:
    rng = np.random.default_rng(0)
    mha = MultiHeadAttention(8, 2, rng=rng)
    x = rng.normal(size=(1, 5, 8))
    _, avg = mha.forward(x, x, x, is_causal=True)
    assert mha.head_weights.shape == (1, 2, 5, 5)
    assert np.allclose(np.triu(mha.head_weights, 1), 0.0)
    np.testing.assert_allclose(mha.head_weights.mean(axis=1), avg)
