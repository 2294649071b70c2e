"""Figures of dlnotes.viz.sequence: they render, and the numbers they plot hold."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dlnotes import viz
from dlnotes.numpy.lstm import lstm_forward
from dlnotes.viz.sequence import gradient_norms_through_time, latch_inputs, latch_lstm

NAMES = ["lstm-latch-gates", "rnn-lstm-gradient-norms", "cnn-layer-macs"]


@pytest.mark.parametrize("name", NAMES)
def test_figure_is_registered_and_renders_a_png(name: str, tmp_path: Path) -> None:
    assert name in viz.FIGURES  # registered by importing dlnotes.viz.sequence
    png = viz.render(name, tmp_path / f"{name}.png", dpi=40)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 5_000


def test_latch_stores_on_write_and_shows_on_read() -> None:
    x = latch_inputs(seq_len=40, writes=(4, 21), reads=(14, 33))
    out, _, cache = lstm_forward(x, None, None, latch_lstm(gain=20.0))
    c = cache.c[1:, 0, 0]
    # after a write the cell holds tanh(value written) until the next write
    assert c[10] == pytest.approx(np.tanh(x[4, 0, 0]), abs=1e-3)
    assert c[30] == pytest.approx(np.tanh(x[21, 0, 0]), abs=1e-3)
    # the output shows the cell only on read steps
    assert out[14, 0, 0] == pytest.approx(np.tanh(c[14]), abs=1e-3)
    assert abs(out[10, 0, 0]) < 1e-3 and abs(out[25, 0, 0]) < 1e-3


def test_gradient_norms_vanish_explode_and_survive_as_described() -> None:
    small = gradient_norms_through_time("rnn", gain=0.9, seq_len=40)
    large = gradient_norms_through_time("rnn", gain=3.0, seq_len=40)
    lstm = gradient_norms_through_time("lstm", forget_bias=3.0, seq_len=40)
    default = gradient_norms_through_time("lstm", seq_len=40)
    # index 0 is the earliest input, -1 the last one
    assert small[0] < 1e-3 * small[-1]  # vanishing
    assert large[0] > 1e3 * large[-1]  # exploding
    assert default[0] < 1e-6 * default[-1]  # f ≈ 0.5 closes the path
    assert 0.1 * lstm[-1] < lstm[0] < 10 * lstm[-1]  # f ≈ 0.95 keeps it open
    with pytest.raises(ValueError, match="cell"):
        gradient_norms_through_time("gru")
