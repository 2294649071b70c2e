"""The ResNet paper's complexity tables, recomputed, and the page that shows them."""

from __future__ import annotations

from pathlib import Path

from dlnotes.models.paper_tables import (
    PAPER_CIFAR_PARAMS,
    PAPER_IMAGENET_MULT_ADDS,
    cifar_markdown,
    cifar_table,
    imagenet_markdown,
    imagenet_table,
)

PAGE = Path(__file__).resolve().parents[2] / "docs/resnet/index.md"


def test_paper_numbers_are_the_papers() -> None:
    # Table 1 "FLOPs" row and Table 6 "#params", as printed in arXiv:1512.03385
    assert PAPER_IMAGENET_MULT_ADDS == {
        18: 1.8e9,
        34: 3.6e9,
        50: 3.8e9,
        101: 7.6e9,
        152: 11.3e9,
    }
    assert PAPER_CIFAR_PARAMS == {
        20: 0.27e6,
        32: 0.46e6,
        44: 0.66e6,
        56: 0.85e6,
        110: 1.7e6,
        1202: 19.4e6,
    }


def test_v1_multiply_adds_are_within_two_percent_of_table_1() -> None:
    for r in imagenet_table():
        assert abs(r.macs_v1 - r.paper_macs) / r.paper_macs < 0.02, r


def test_v1_5_costs_exactly_the_strided_1x1_convs_at_full_resolution() -> None:
    # v1.5 runs the reducing 1x1 conv of the first bottleneck of stages 2-4 at
    # the input resolution (4x the positions of v1): 3 extra copies of its cost.
    extra = 0
    for stage in (2, 3, 4):
        inplanes = 64 * 4 * 2 ** (stage - 2)  # 256, 512, 1024
        planes = 64 * 2 ** (stage - 1)  # 128, 256, 512
        side_out = 56 // 2 ** (stage - 1)  # 28, 14, 7
        extra += 3 * side_out**2 * inplanes * planes
    for r in imagenet_table():
        expected = 0 if r.depth < 50 else extra
        assert r.macs_v1_5 - r.macs_v1 == expected
    assert extra == 231_211_008  # about 0.23e9


def test_cifar_option_a_within_the_papers_rounding() -> None:
    for r in cifar_table():
        assert abs(r.params_a - r.paper_params) / r.paper_params < 0.02, r


def test_cifar_multiply_adds_grow_linearly_with_n() -> None:
    rows = {r.depth: r for r in cifar_table()}
    per_n = (rows[56].macs - rows[20].macs) / (9 - 3)
    for depth, r in rows.items():
        n = (depth - 2) // 6
        assert abs(r.macs - (rows[20].macs + (n - 3) * per_n)) <= 1


def test_the_page_shows_exactly_the_computed_tables() -> None:
    text = PAGE.read_text(encoding="utf-8")
    assert imagenet_markdown() in text, "re-paste imagenet_markdown() into the page"
    assert cifar_markdown() in text, "re-paste cifar_markdown() into the page"
