"""The optimiser figure renders and the comparison it draws holds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dlnotes.viz.optim import (
    OPTIMIZERS,
    X0,
    ill_conditioned,
    optimizer_path,
    rotation,
)
from tests.support.figures import assert_renders_png


def test_figure_is_registered_and_renders_a_png(tmp_path: Path) -> None:
    assert_renders_png("optimizer-paths", tmp_path)


def distances(angle: float) -> dict[str, float]:
    q = ill_conditioned(25.0, angle)
    x0 = rotation(angle) @ np.array(X0)
    return {
        name: float(np.linalg.norm(optimizer_path(make, q, x0, 60)[-1]))
        for name, make in OPTIMIZERS.items()
    }


def test_the_page_claims_hold() -> None:
    aligned, rotated = distances(0.0), distances(45.0)
    # momentum and Nesterov beat plain SGD; Nesterov beats heavy ball here
    assert aligned["momentum"] < aligned["SGD"] / 5
    assert aligned["Nesterov"] < aligned["momentum"]
    # SGD-family is rotation invariant: the same distances after rotating
    for name in ("SGD", "momentum", "Nesterov"):
        assert rotated[name] == pytest.approx(aligned[name], rel=1e-9)
    # per-coordinate methods lose their edge when the valley is rotated
    for name in ("AdaGrad", "RMSProp", "Adam"):
        assert aligned[name] < aligned["SGD"]
        assert rotated[name] > 3 * aligned[name]


def test_ill_conditioned_has_the_asked_spectrum_and_checks_kappa() -> None:
    q = ill_conditioned(25.0, 30.0)
    np.testing.assert_allclose(np.linalg.eigvalsh(q.A), [1.0, 25.0])
    with pytest.raises(ValueError, match="kappa"):
        ill_conditioned(0.5)
