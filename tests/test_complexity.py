"""Params, MACs, activations of dlnotes.complexity vs closed forms and hand counts."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from dlnotes.complexity import (
    conv2d_macs,
    conv2d_output_size,
    conv2d_params,
    example_cnn,
    format_count,
    linear_macs,
    lstm_macs,
    lstm_params,
    profile,
    rnn_macs,
    rnn_params,
)


@settings(max_examples=25, deadline=None)
@given(
    c_in=st.integers(1, 4),
    c_out=st.integers(1, 4),
    groups=st.sampled_from([1, 2]),
    k=st.integers(1, 4),
    stride=st.integers(1, 3),
    padding=st.integers(0, 2),
    dilation=st.integers(1, 2),
    size=st.integers(7, 12),  # >= the largest dilated kernel, 2 * (4 - 1) + 1
    batch=st.integers(1, 3),
)
def test_conv2d_macs_equal_the_closed_form_and_real_shapes(
    c_in, c_out, groups, k, stride, padding, dilation, size, batch
) -> None:
    c_in, c_out = c_in * groups, c_out * groups
    conv = nn.Conv2d(c_in, c_out, k, stride, padding, dilation, groups=groups)
    prof = profile(conv, (batch, c_in, size, size + 1))
    (row,) = prof.rows
    _, _, h_out, w_out = row.output_shape
    assert (h_out, w_out) == conv2d_output_size(
        (size, size + 1), k, stride=stride, padding=padding, dilation=dilation
    )
    closed = batch * c_out * h_out * w_out * (c_in // groups) * k * k
    assert (
        prof.macs
        == closed
        == conv2d_macs(c_in, c_out, k, (h_out, w_out), groups=groups, batch_size=batch)
    )
    assert prof.params == sum(p.numel() for p in conv.parameters())
    assert prof.params == conv2d_params(c_in, c_out, k, groups=groups)
    assert prof.flops == 2 * prof.macs


def test_linear_macs_are_in_times_out_per_row() -> None:
    fc = nn.Linear(7, 3)
    prof = profile(fc, (5, 7))
    assert prof.macs == 5 * 7 * 3 == linear_macs(7, 3, batch_size=5)
    assert prof.params == 7 * 3 + 3


def test_conv_transpose_counts_one_kernel_per_input_element() -> None:
    deconv = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1)
    prof = profile(deconv, (2, 4, 5, 5))
    assert prof.rows[0].output_shape == (2, 6, 10, 10)
    assert prof.macs == (2 * 4 * 5 * 5) * 6 * 3 * 3


def test_hand_computed_small_cnn() -> None:
    # 1×1×8×8 → conv 3×3 (1→4, pad 1) → BN → ReLU → maxpool 2 → flatten → fc 64→10
    net = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(4 * 4 * 4, 10),
    )
    prof = profile(net, (1, 1, 8, 8))
    conv = 4 * 8 * 8 * 1 * 3 * 3  # 2304: every output pixel a 9-tap dot product
    bn = 4 * 8 * 8  # 256: y = a·x + b per element
    fc = 64 * 10  # 640
    assert [r.macs for r in prof.rows] == [conv, bn, 0, 0, 0, fc]
    assert prof.macs == 3200 and prof.flops == 6400
    assert prof.macs_of("Conv2d", "Linear") == conv + fc
    assert prof.macs_by_type()["BatchNorm2d"] == bn
    assert prof.params == (4 * 9 + 4) + (4 + 4) + (640 + 10)
    outputs = [256, 256, 256, 64, 64, 10]  # elements of each layer's output
    assert [r.activations for r in prof.rows] == outputs
    assert prof.activations == sum(outputs)
    assert prof.activation_bytes == 4 * sum(outputs)  # float32


@pytest.mark.parametrize(("mode", "gates"), [("LSTM", 4), ("GRU", 3), ("RNN", 1)])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_recurrent_macs_and_params_closed_form(mode, gates, num_layers) -> None:
    T, N, D, H = 9, 4, 6, 5
    module = getattr(nn, mode)(D, H, num_layers)
    prof = profile(module, (T, N, D))
    assert prof.params == sum(p.numel() for p in module.parameters())
    assert prof.params == rnn_params(D, H, gates=gates, num_layers=num_layers)
    per_step = gates * H * (D + H) + (num_layers - 1) * gates * H * (H + H)
    assert prof.macs == T * N * per_step
    assert prof.macs == rnn_macs(T, N, D, H, gates=gates, num_layers=num_layers)


def test_lstm_closed_form_of_the_benchmark_shape() -> None:
    module = nn.LSTM(128, 256)
    prof = profile(module, (50, 32, 128))
    assert prof.macs == 50 * 32 * 4 * 256 * (128 + 256) == lstm_macs(50, 32, 128, 256)
    assert prof.params == lstm_params(128, 256) == 4 * 256 * (128 + 256) + 8 * 256
    # output, h_n and c_n all count as activations
    assert prof.activations == 50 * 32 * 256 + 2 * 32 * 256


def test_bidirectional_and_batch_first_lstm() -> None:
    module = nn.LSTM(6, 5, num_layers=2, bidirectional=True, batch_first=True)
    prof = profile(module, (4, 9, 6))  # (N, T, D)
    assert prof.params == lstm_params(6, 5, num_layers=2, bidirectional=True)
    assert prof.macs == lstm_macs(9, 4, 6, 5, num_layers=2, bidirectional=True)


def test_embedding_is_zero_macs_with_integer_input() -> None:
    net = nn.Sequential(nn.Embedding(100, 8))
    prof = profile(net, (3, 5), dtype=torch.long)
    assert prof.macs == 0 and prof.params == 800
    assert prof.rows[0].output_shape == (3, 5, 8)


def test_table_lists_every_leaf_layer_and_totals() -> None:
    net = example_cnn()
    prof = profile(net, (1, 3, 32, 32))
    leaves = [n for n, m in net.named_modules() if not list(m.children())]
    assert [r.name for r in prof.rows] == leaves
    table, md = prof.table(), prof.to_markdown()
    for name in leaves:
        assert name in table and f"| {name} |" in md
    assert "MACs" in table and "FLOPs" in table and "Params" in table
    assert f"{prof.params:,}" in table and f"**{prof.macs:,}**" in md
    assert prof.params == sum(p.numel() for p in net.parameters())
    assert prof.uncounted == []


def test_reused_module_gets_a_row_per_call_and_params_once() -> None:
    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(self.fc(x))

    prof = profile(Twice(), (2, 4))
    assert [r.name for r in prof.rows] == ["fc", "fc (2)"]
    assert [r.params for r in prof.rows] == [20, 0]
    assert prof.macs == 2 * 2 * 16


def test_profile_restores_training_mode_and_leaves_bn_statistics_alone() -> None:
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    net.train()
    before = net[1].running_mean.clone()
    profile(net, (2, 3, 8, 8))
    assert net.training and net[1].training
    assert torch.equal(net[1].running_mean, before)


def test_unknown_layer_with_parameters_is_flagged() -> None:
    class Scale(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.ones(3))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * self.w

    prof = profile(nn.Sequential(Scale()), (2, 3))
    assert prof.uncounted == ["0"]
    assert " ?" in prof.table()


def test_bad_arguments_raise_value_error_naming_them() -> None:
    with pytest.raises(ValueError, match="input_size"):
        profile(nn.Linear(2, 2), (0, 2))
    with pytest.raises(ValueError, match="dtype"):
        profile(nn.Linear(2, 2), (1, 2), dtype=torch.float64)
    with pytest.raises(ValueError, match="groups"):
        conv2d_params(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="kernel_size"):
        conv2d_output_size(4, 7)


def test_format_count_names_units() -> None:
    assert format_count(3_860_000_000, "MACs") == "3.86 GMACs"
    assert format_count(25_557_032) == "25.56 M"
    assert format_count(512, "MACs") == "512 MACs"


def test_bottleneck_costs_less_than_two_3x3_convs() -> None:
    # the ResNet paper's Fig. 5: on 56×56 feature maps with 256 channels
    plain = 2 * conv2d_macs(256, 256, 3, 56)
    bottleneck = (
        conv2d_macs(256, 64, 1, 56)
        + conv2d_macs(64, 64, 3, 56)
        + conv2d_macs(64, 256, 1, 56)
    )
    assert bottleneck == 56 * 56 * (256 * 64 + 64 * 64 * 9 + 64 * 256)
    assert plain / bottleneck > 16
