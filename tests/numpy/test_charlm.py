"""Character-level language model: gradients vs PyTorch and finite differences,
the text it reads, and (slow) that training learns and clipping matters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dlnotes.numpy.charlm import (
    UNKNOWN,
    CharLM,
    CharLMConfig,
    Vocab,
    notes_corpus,
    notes_text,
    perplexity,
    train_charlm,
)
from tests.support import DOCS
from tests.support.gradcheck import central_difference

V, E, H, T, N = 11, 4, 6, 5, 3


def _ids(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, V, (T + 1, N))


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_loss_and_grads_match_torch(cell: str) -> None:
    model = CharLM(V, E, H, cell, rng=np.random.default_rng(0))
    model.bias[:] = np.random.default_rng(1).normal(size=V)
    ids = _ids()
    loss, grads = model.loss_and_grads(ids)
    params = [torch.tensor(p, requires_grad=True) for p in model.parameters()]
    emb, w_ih, w_hh, b_ih, b_hh, weight, bias = params
    rnn = (torch.nn.LSTM if cell == "lstm" else torch.nn.GRU)(E, H, dtype=torch.float64)
    x = emb[torch.tensor(ids[:-1])]  # (T, N, E)
    out, _ = torch.func.functional_call(
        rnn,
        {
            "weight_ih_l0": w_ih,
            "weight_hh_l0": w_hh,
            "bias_ih_l0": b_ih,
            "bias_hh_l0": b_hh,
        },
        (x,),
    )
    logits = out @ weight.T + bias
    ref = torch.nn.functional.cross_entropy(
        logits.reshape(-1, V), torch.tensor(ids[1:]).reshape(-1)
    )
    ref.backward()
    assert loss == pytest.approx(ref.item(), rel=1e-12)
    for ours, p in zip(grads, params, strict=True):
        np.testing.assert_allclose(ours, p.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_rnn_cell_gradients_by_finite_differences() -> None:
    model = CharLM(V, E, H, "rnn", rng=np.random.default_rng(2))
    ids = _ids(3)
    _, grads = model.loss_and_grads(ids)
    for p, g in zip(model.parameters(), grads, strict=True):
        fd = central_difference(lambda: model.loss_and_grads(ids)[0], p)
        np.testing.assert_allclose(g, fd, atol=1e-8)


def test_notes_text_keeps_prose_and_drops_code_math_and_urls(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "p.md").write_text(
        "# 标题\n\n卷积是**局部**的。$x^2$ 见 [链接](https://e.com/x)。\n\n"
        "```python\nprint('code')\n```\n\n$$\na = b\n$$\n"
        "- [x] 为什么？ #Q-cnn-01 ✅ 2026-11-22\n",
        encoding="utf-8",
    )
    text = notes_text(tmp_path)
    assert "卷积是 局部 的。" in text and "标题" in text and "链接" in text
    assert "为什么？" in text
    for gone in ("print", "x^2", "https", "a = b", "**", "#", "Q", "2026", "✅", "x"):
        assert gone not in text


def test_vocab_round_trip_and_unknown() -> None:
    vocab = Vocab.build("aaabbc", max_size=3)  # keeps a, b; c is unknown
    assert vocab.chars[0] == UNKNOWN and len(vocab) == 3
    assert vocab.decode(vocab.encode("abc")) == "ab" + UNKNOWN
    with pytest.raises(ValueError, match="max_size"):
        Vocab.build("abc", max_size=1)


def test_sample_continues_with_known_ids() -> None:
    model = CharLM(V, E, H, "gru", rng=np.random.default_rng(0))
    out = model.sample(
        np.array([1, 2]), 7, temperature=0.5, rng=np.random.default_rng(0)
    )
    assert out.shape == (7,) and out.min() >= 1 and out.max() < V  # never □ (0)
    model.bias[0] = 50.0  # make □ by far the likeliest next character
    assert 0 not in model.sample(np.array([1]), 20, rng=np.random.default_rng(1))
    with_unknown = model.sample(
        np.array([1]), 20, rng=np.random.default_rng(1), allow_unknown=True
    )
    assert np.all(with_unknown == 0)
    with pytest.raises(ValueError, match="temperature"):
        model.sample(np.array([1]), 1, temperature=0.0)
    with pytest.raises(ValueError, match="cell"):
        CharLM(V, cell="transformer")


@pytest.fixture(scope="module")
def corpus() -> tuple[np.ndarray, np.ndarray, int, float]:
    c = notes_corpus(vocab_size=150, val_chars=2000, docs_dir=DOCS)
    return c.train, c.val, len(c.vocab), c.unigram_perplexity


SMALL = dict(embed_dim=16, hidden_size=48, seq_len=20, batch_size=16, eval_every=1000)


@pytest.mark.slow
def test_lstm_learns_more_than_character_frequencies(corpus) -> None:
    train, val, vocab_size, unigram = corpus
    cfg = CharLMConfig(cell="lstm", num_steps=100, lr=1e-2, **SMALL)
    model, hist = train_charlm(train, val, vocab_size, cfg)
    assert np.mean(hist.train_loss[-10:]) < hist.train_loss[0] - 1.0
    assert hist.val_perplexity[-1] < 0.75 * unigram  # uses the context
    assert perplexity(model, val, 20) == pytest.approx(hist.val_perplexity[-1])


@pytest.mark.slow
def test_clipping_keeps_a_large_sgd_step_from_blowing_up(corpus) -> None:
    train, val, vocab_size, unigram = corpus
    results = {}
    for clip in (None, 1.0):
        cfg = CharLMConfig(
            cell="rnn", optimizer="sgd", lr=3.0, clip=clip, num_steps=160, **SMALL
        )
        results[clip] = train_charlm(train, val, vocab_size, cfg)[1]
    # clipped: better than character frequencies; unclipped: worse than them
    assert results[1.0].val_perplexity[-1] < unigram < results[None].val_perplexity[-1]
    late = {clip: np.mean(h.train_loss[-20:]) for clip, h in results.items()}
    assert late[None] > late[1.0] + 1.0  # nats per character, after the blow-up
