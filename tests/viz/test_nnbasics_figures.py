"""The math / NN-basics figures build from dlnotes code and show what they claim."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from dlnotes.viz import FIGURES
from dlnotes.viz import nnbasics as nb

NAMES = [
    "activation-functions",
    "finite-difference-error",
    "gd-step-sizes",
    "feature-scaling-gd",
    "perceptron-xor",
    "mlp-digits-training",
    "nonconvex-minima",
    "batchnorm-activations",
    "dropout-mask",
]


def test_all_figures_are_registered_from_this_module() -> None:
    ours = sorted(n for n, f in FIGURES.items() if f.__module__ == nb.__name__)
    assert ours == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_figure_has_content_and_ascii_text(name: str) -> None:
    fig = FIGURES[name]()
    try:
        axes = fig.get_axes()
        assert axes
        drawn = sum(
            len(ax.lines) + len(ax.collections) + len(ax.images) + len(ax.patches)
            for ax in axes
        )
        assert drawn > 0
        texts = [ax.get_title() for ax in axes] + [
            t.get_text()
            for ax in axes
            if ax.get_legend()
            for t in ax.get_legend().texts
        ]
        assert all(s.isascii() for s in texts), texts  # no CJK font on the builder
    finally:
        plt.close(fig)


def test_figures_report_the_expected_facts() -> None:
    fig = FIGURES["perceptron-xor"]()
    titles = [ax.get_title() for ax in fig.get_axes()]
    plt.close(fig)
    assert titles[0].startswith("separable: converged")
    assert titles[1] == "XOR: 4 mistakes in every epoch"
    fig = FIGURES["feature-scaling-gd"]()
    raw, scaled = (ax.get_title() for ax in fig.get_axes())
    plt.close(fig)
    steps = [int(t.rsplit(" ", 1)[1]) for t in (raw, scaled)]
    assert steps[1] < steps[0] / 10  # standardising speeds GD up a lot
    fig = FIGURES["nonconvex-minima"]()
    labels = [t.get_text() for t in fig.get_axes()[0].get_legend().texts]
    plt.close(fig)
    assert labels[0].endswith("w=-0.87") and labels[1].endswith("w=-2.51")
