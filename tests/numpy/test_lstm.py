"""NumPy LSTM vs torch.nn.LSTM (float64, autograd), weight copies, finite diffs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlnotes.numpy.lstm import (
    LSTM,
    LSTMParams,
    lstm_backward,
    lstm_cell_forward,
    lstm_forward,
    lstm_forward_fast,
    params_from_torch,
    params_to_torch,
    sigmoid,
)
from tests.support.gradcheck import central_difference

T, N, D, H = 7, 3, 4, 5


def torch_lstm(num_layers: int = 1, seed: int = 0, **kw) -> torch.nn.LSTM:
    torch.manual_seed(seed)
    return torch.nn.LSTM(D, H, num_layers, dtype=torch.float64, **kw)


def run_torch(module, x, h0, c0, g_out, g_h, g_c):
    """Forward + backward of ``sum(out·g_out) + sum(h_n·g_h) + sum(c_n·g_c)``."""
    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0, requires_grad=True)
    c0t = torch.tensor(c0, requires_grad=True)
    out, (hn, cn) = module(xt, (h0t, c0t))
    loss = (out * torch.tensor(g_out)).sum()
    loss = loss + (hn * torch.tensor(g_h)).sum() + (cn * torch.tensor(g_c)).sum()
    loss.backward()
    return xt, h0t, c0t, out.detach().numpy(), hn.detach().numpy(), cn.detach().numpy()


def test_forward_states_and_all_gradients_match_torch() -> None:
    rng = np.random.default_rng(0)
    module = torch_lstm()
    x = rng.normal(size=(T, N, D))
    h0, c0 = rng.normal(size=(1, N, H)), rng.normal(size=(1, N, H))
    g_out, g_h, g_c = (rng.normal(size=s) for s in [(T, N, H), (1, N, H), (1, N, H)])
    xt, h0t, c0t, out_t, hn_t, cn_t = run_torch(module, x, h0, c0, g_out, g_h, g_c)

    params = params_from_torch(module)
    out, (h_n, c_n), cache = lstm_forward(x, h0[0], c0[0], params)
    np.testing.assert_allclose(out, out_t, rtol=0, atol=1e-12)
    np.testing.assert_allclose(h_n, hn_t[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(c_n, cn_t[0], rtol=0, atol=1e-12)

    grads = lstm_backward(g_out, g_h[0], g_c[0], cache)
    np.testing.assert_allclose(grads.x, xt.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(grads.h0, h0t.grad[0].numpy(), atol=1e-10)
    np.testing.assert_allclose(grads.c0, c0t.grad[0].numpy(), atol=1e-10)
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        ref = getattr(module, f"{name}_l0").grad.numpy()
        np.testing.assert_allclose(getattr(grads, name), ref, atol=1e-10, err_msg=name)


def test_weights_copied_into_torch_give_the_same_outputs_and_states() -> None:
    rng = np.random.default_rng(1)
    params = LSTMParams.init(D, H, rng=rng)
    params.bias_ih = params.bias_ih + 1.0  # something torch's init would not give
    module = torch.nn.LSTM(D, H, dtype=torch.float64)
    params_to_torch(params, module)
    x = rng.normal(size=(T, N, D))
    out, (h_n, c_n), _ = lstm_forward(x, None, None, params)
    with torch.no_grad():
        out_t, (hn_t, cn_t) = module(torch.tensor(x))
    np.testing.assert_allclose(out, out_t.numpy(), atol=1e-12)
    np.testing.assert_allclose(h_n, hn_t[0].numpy(), atol=1e-12)
    np.testing.assert_allclose(c_n, cn_t[0].numpy(), atol=1e-12)
    back = params_from_torch(module)  # and the round trip is exact
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        np.testing.assert_array_equal(getattr(back, name), getattr(params, name))


@pytest.mark.parametrize("batch_first", [False, True])
def test_multilayer_class_matches_torch_both_ways(batch_first: bool) -> None:
    rng = np.random.default_rng(2)
    ours = LSTM(D, H, num_layers=2, batch_first=batch_first, rng=rng)
    module = ours.to_torch()
    assert module.batch_first is batch_first
    shape = (N, T, D) if batch_first else (T, N, D)
    x = rng.normal(size=shape)
    h0, c0 = rng.normal(size=(2, N, H)), rng.normal(size=(2, N, H))
    out_shape = (N, T, H) if batch_first else (T, N, H)
    g_out, g_h, g_c = (rng.normal(size=s) for s in [out_shape, (2, N, H), (2, N, H)])
    xt, h0t, c0t, out_t, hn_t, cn_t = run_torch(module, x, h0, c0, g_out, g_h, g_c)

    copy = LSTM.from_torch(module)  # torch -> NumPy as well
    for net in (ours, copy):
        out, (h_n, c_n) = net(x, (h0, c0))
        np.testing.assert_allclose(out, out_t, atol=1e-12)
        np.testing.assert_allclose(h_n, hn_t, atol=1e-12)
        np.testing.assert_allclose(c_n, cn_t, atol=1e-12)
        dx, (dh0, dc0) = net.backward(g_out, g_h, g_c)
        np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-10)
        np.testing.assert_allclose(dh0, h0t.grad.numpy(), atol=1e-10)
        np.testing.assert_allclose(dc0, c0t.grad.numpy(), atol=1e-10)
        for k in range(2):
            ref = getattr(module, f"weight_hh_l{k}").grad.numpy()
            np.testing.assert_allclose(net.grads[k].weight_hh, ref, atol=1e-10)


def test_float32_default_torch_lstm_matches_in_float32() -> None:
    torch.manual_seed(3)
    module = torch.nn.LSTM(D, H)  # float32, PyTorch's own init
    net = LSTM.from_torch(module)
    assert net.layers[0].weight_ih.dtype == np.float32
    x = np.random.default_rng(3).normal(size=(T, N, D)).astype(np.float32)
    out, (h_n, c_n) = net(x)
    assert out.dtype == np.float32
    with torch.no_grad():
        out_t, (hn_t, cn_t) = module(torch.from_numpy(x))
    np.testing.assert_allclose(out, out_t.numpy(), atol=2e-6)
    np.testing.assert_allclose(h_n, hn_t.numpy(), atol=2e-6)
    np.testing.assert_allclose(c_n, cn_t.numpy(), atol=2e-6)


def test_sequence_equals_the_readable_cell_unrolled() -> None:
    rng = np.random.default_rng(4)
    p = LSTMParams.init(D, H, rng=rng)
    x = rng.normal(size=(T, N, D)) * 3  # large inputs: saturating gates
    out, (h_n, c_n), _ = lstm_forward(x, None, None, p)
    h, c = np.zeros((N, H)), np.zeros((N, H))
    assert p.bias_ih is not None and p.bias_hh is not None
    for t in range(T):
        h, c = lstm_cell_forward(
            x[t], h, c, p.weight_ih, p.weight_hh, p.bias_ih, p.bias_hh
        )
        np.testing.assert_allclose(out[t], h, atol=1e-14)
    np.testing.assert_allclose(h_n, h, atol=1e-14)
    np.testing.assert_allclose(c_n, c, atol=1e-14)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("with_state", [True, False])
def test_fast_forward_equals_the_readable_one_in_float64(bias, with_state) -> None:
    rng = np.random.default_rng(7)
    p = LSTMParams.init(D, H, bias=bias, rng=rng)
    x = rng.normal(size=(T, N, D)) * 3  # large inputs: saturating gates
    h0, c0 = rng.normal(size=(2, N, H)) if with_state else (None, None)
    out, (h_n, c_n), cache = lstm_forward(x, h0, c0, p)
    out_f, (h_f, c_f), cache_f = lstm_forward_fast(x, h0, c0, p)
    for ours, fast in [(out, out_f), (h_n, h_f), (c_n, c_f)]:
        np.testing.assert_allclose(fast, ours, rtol=0, atol=1e-14)
    # the caches agree too, so lstm_backward gives the same gradients
    np.testing.assert_allclose(cache_f.gates, cache.gates, rtol=0, atol=1e-14)
    np.testing.assert_allclose(cache_f.tanh_c, cache.tanh_c, rtol=0, atol=1e-14)
    dout = rng.normal(size=(T, N, H))
    g, g_f = (
        lstm_backward(dout, None, None, cache),
        lstm_backward(dout, None, None, cache_f),
    )
    np.testing.assert_allclose(g_f.weight_hh, g.weight_hh, rtol=0, atol=1e-12)


def test_fast_forward_keeps_float32() -> None:
    rng = np.random.default_rng(8)
    p = LSTMParams.init(D, H, rng=rng, dtype=np.float32)
    x = rng.normal(size=(T, N, D)).astype(np.float32)
    out, _, _ = lstm_forward(x, None, None, p)
    out_f, _, _ = lstm_forward_fast(x, None, None, p)
    assert out.dtype == out_f.dtype == np.float32
    np.testing.assert_allclose(out_f, out, atol=1e-6)


def test_sigmoid_is_stable_and_exact_at_the_extremes() -> None:
    z = np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0])
    np.testing.assert_allclose(
        sigmoid(z), torch.sigmoid(torch.tensor(z)).numpy(), rtol=1e-15, atol=0
    )
    assert sigmoid(z)[0] == 0.0 and sigmoid(z)[-1] == 1.0


def test_bptt_matches_finite_differences_without_torch() -> None:
    rng = np.random.default_rng(5)
    p = LSTMParams.init(3, 2, rng=rng)
    p.weight_hh *= 3  # make the recurrence matter
    x, h0, c0 = (
        rng.normal(size=(4, 2, 3)),
        rng.normal(size=(2, 2)),
        rng.normal(size=(2, 2)),
    )
    g_out, g_h, g_c = (
        rng.normal(size=(4, 2, 2)),
        rng.normal(size=(2, 2)),
        rng.normal(size=(2, 2)),
    )

    def loss() -> float:
        out, (h_n, c_n), _ = lstm_forward(x, h0, c0, p)
        return float((out * g_out).sum() + (h_n * g_h).sum() + (c_n * g_c).sum())

    _, _, cache = lstm_forward(x, h0, c0, p)
    grads = lstm_backward(g_out, g_h, g_c, cache)
    for name, arr in [
        ("x", x),
        ("h0", h0),
        ("c0", c0),
        ("weight_ih", p.weight_ih),
        ("weight_hh", p.weight_hh),
        ("bias_ih", p.bias_ih),
        ("bias_hh", p.bias_hh),
    ]:
        assert arr is not None
        np.testing.assert_allclose(
            getattr(grads, name), central_difference(loss, arr), atol=1e-8, err_msg=name
        )


def test_no_bias_layer_matches_torch() -> None:
    module = torch_lstm(bias=False)
    p = params_from_torch(module)
    assert p.bias_ih is None
    x = np.random.default_rng(6).normal(size=(T, N, D))
    out, _, _ = lstm_forward(x, None, None, p)
    with torch.no_grad():
        np.testing.assert_allclose(out, module(torch.tensor(x))[0].numpy(), atol=1e-12)


@pytest.mark.parametrize(
    ("change", "argument"),
    [
        ({"x": np.zeros((T, N))}, "x"),
        ({"h0": np.zeros((N, H + 1))}, "h0"),
        ({"c0": np.zeros((N + 1, H))}, "c0"),
        ({"weight_ih": np.zeros((4 * H, D + 1))}, "weight_ih"),
        ({"weight_hh": np.zeros((3 * H, H))}, "weight_hh"),
        ({"bias_ih": np.zeros(H)}, "bias_ih"),
        ({"bias_hh": np.zeros(4 * H + 1)}, "bias_hh"),
    ],
)
@pytest.mark.parametrize("forward", [lstm_forward, lstm_forward_fast])
def test_bad_shapes_raise_value_error_naming_the_argument(
    change, argument, forward
) -> None:
    p = LSTMParams.init(D, H, rng=np.random.default_rng(0))
    args = {"x": np.zeros((T, N, D)), "h0": None, "c0": None}
    fields = {k: v for k, v in change.items() if k not in args}
    args.update({k: v for k, v in change.items() if k in args})
    p = LSTMParams(**{**p.__dict__, **fields})
    with pytest.raises(ValueError, match=argument):
        forward(args["x"], args["h0"], args["c0"], p)


def test_backward_and_copy_errors_name_their_argument() -> None:
    p = LSTMParams.init(D, H, rng=np.random.default_rng(0))
    _, _, cache = lstm_forward(np.zeros((T, N, D)), None, None, p)
    with pytest.raises(ValueError, match="doutput"):
        lstm_backward(np.zeros((T, N, H + 1)), None, None, cache)
    with pytest.raises(ValueError, match="dc_n"):
        lstm_backward(np.zeros((T, N, H)), None, np.zeros((1, N, H)), cache)
    with pytest.raises(ValueError, match="weight_ih"):
        params_to_torch(p, torch.nn.LSTM(D + 1, H, dtype=torch.float64))
    with pytest.raises(ValueError, match="bidirectional"):
        params_from_torch(torch.nn.LSTM(D, H, bidirectional=True))
    with pytest.raises(ValueError, match="hx"):
        LSTM(D, H, num_layers=2)(np.zeros((T, N, D)), (np.zeros((1, N, H)),) * 2)
