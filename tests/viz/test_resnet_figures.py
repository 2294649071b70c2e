"""The ResNet page's figures: drawn from dlnotes' computed tables."""

from __future__ import annotations

from collections.abc import Iterator

import matplotlib
import pytest
import torch

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from dlnotes.models.paper_tables import cifar_table, imagenet_table
from dlnotes.viz import FIGURES, load_all


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    plt.close("all")


def test_figures_are_registered() -> None:
    load_all()
    assert {"resnet-imagenet-complexity", "resnet-cifar-params"} <= set(FIGURES)


def test_imagenet_figure_plots_the_computed_and_the_paper_numbers() -> None:
    load_all()
    fig = FIGURES["resnet-imagenet-complexity"]()
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    rows = imagenet_table()
    assert list(lines["v1 (dlnotes)"].get_ydata()) == [r.macs_v1 / 1e9 for r in rows]
    assert list(lines["v1.5 (dlnotes)"].get_ydata()) == [
        r.macs_v1_5 / 1e9 for r in rows
    ]
    assert list(lines["paper, Table 1"].get_ydata()) == [1.8, 3.6, 3.8, 7.6, 11.3]
    bars = [p.get_height() for p in fig.axes[1].patches]
    assert bars == [r.params / 1e6 for r in rows]


def test_cifar_figure_plots_all_options() -> None:
    load_all()
    fig = FIGURES["resnet-cifar-params"]()
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    rows = cifar_table()
    assert list(lines["option A (dlnotes)"].get_ydata()) == [r.params_a for r in rows]
    assert list(lines["paper, Table 6"].get_xdata()) == [20, 32, 44, 56, 110, 1202]
    extra = {line.get_label(): line for line in fig.axes[1].get_lines()}
    b = list(extra["option B vs A"].get_ydata())
    assert b == sorted(b, reverse=True)  # a constant 2,752 extra: shrinking share
