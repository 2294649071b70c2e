"""A character-level language model in NumPy, trained on the notes' own text.

Embedding -> one recurrent layer (vanilla RNN, LSTM or GRU from this package) ->
linear layer -> softmax over the next character. Trained with truncated
backpropagation through time on random windows of the text, :class:`Adam` or
:class:`SGD` from :mod:`dlnotes.numpy.optim`, and optional gradient clipping
(:func:`dlnotes.numpy.rnn.clip_grad_norm`, Pascanu et al. 2013, arXiv:1211.5063).
Karpathy's char-rnn (2015) is the classic demonstration.

Perplexity is ``exp(mean cross-entropy)`` in nats per character: a model that
guessed uniformly among ``V`` characters would have perplexity ``V``.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dlnotes.numpy.functional import logsumexp, softmax
from dlnotes.numpy.gru import GRUParams, gru_backward, gru_forward
from dlnotes.numpy.lstm import LSTMParams, lstm_backward, lstm_forward
from dlnotes.numpy.optim import SGD, Adam, Optimizer
from dlnotes.numpy.rnn import clip_grad_norm, rnn_backward, rnn_forward
from dlnotes.numpy.types import FloatArray, IntArray

__all__ = [
    "CharLM",
    "CharLMConfig",
    "Corpus",
    "History",
    "Vocab",
    "notes_corpus",
    "notes_text",
    "perplexity",
    "train_charlm",
]

UNKNOWN = "□"

_FENCE = re.compile(r"^\s*(```|~~~).*?^\s*\1", re.S | re.M)
_DISPLAY_MATH = re.compile(r"\$\$.*?\$\$", re.S)
_INLINE = re.compile(r"\$[^$\n]+\$|`[^`\n]*`|<[^>\n]+>|\]\([^)\n]*\)|https?://\S+")
# tracker markup: task boxes, question ids, resolution dates
_TRACKER = re.compile(r"\[[ xX/]\] |#Q-[a-z0-9]+-\d+|✅ ?\d{4}-\d{2}-\d{2}")
_MARKUP = re.compile(r"[#*>|\[\]_=!-]+")


def notes_text(docs_dir: Path, exclude: Sequence[str] = ("guide",)) -> str:
    """The prose of every ``.md`` note under ``docs_dir``, in path order.

    Code blocks, math, inline code, HTML tags, link targets, the tracker's
    checkboxes, question ids and dates, and Markdown punctuation are removed;
    blank runs collapse to one newline.
    """
    parts = []
    for path in sorted(Path(docs_dir).rglob("*.md")):
        if path.relative_to(docs_dir).parts[0] in exclude:
            continue
        text = path.read_text(encoding="utf-8")
        for pattern in (_FENCE, _DISPLAY_MATH, _INLINE, _TRACKER, _MARKUP):
            text = pattern.sub(" ", text)
        lines = (" ".join(line.split()) for line in text.splitlines())
        parts.append("\n".join(line for line in lines if line))
    return "\n".join(parts)


DOCS_DIR = Path(__file__).resolve().parents[2] / "docs"  # the notes of this repository


@dataclass(frozen=True)
class Vocab:
    """Characters by frequency; everything else maps to :data:`UNKNOWN`."""

    chars: tuple[str, ...]

    @classmethod
    def build(cls, text: str, max_size: int = 1000) -> Vocab:
        if max_size < 2:
            raise ValueError(f"max_size must be >= 2, got {max_size}")
        common = [c for c, _ in Counter(text).most_common(max_size - 1)]
        return cls((UNKNOWN, *sorted(common)))

    @property
    def index(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> IntArray:
        index = self.index
        return np.array([index.get(c, 0) for c in text], dtype=np.int64)

    def decode(self, ids: Sequence[int] | IntArray) -> str:
        return "".join(self.chars[int(i)] for i in ids)


# --8<-- [start:charlm]
class CharLM:
    """Embedding (V, E) -> recurrent layer (E -> H) -> linear (H -> V)."""

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int = 32,
        hidden_size: int = 128,
        cell: str = "lstm",
        rng: np.random.Generator | None = None,
    ) -> None:
        rng = np.random.default_rng() if rng is None else rng
        if cell not in ("rnn", "lstm", "gru"):
            raise ValueError(f"cell must be 'rnn', 'lstm' or 'gru', got {cell!r}")
        self.cell, self.hidden_size = cell, hidden_size
        self.embedding = rng.normal(0.0, 1.0, (vocab_size, embed_dim))
        k = 1.0 / math.sqrt(hidden_size)
        if cell == "lstm":
            p = LSTMParams.init(embed_dim, hidden_size, rng=rng)
            assert p.bias_ih is not None and p.bias_hh is not None
            self.rec = [p.weight_ih, p.weight_hh, p.bias_ih, p.bias_hh]
        elif cell == "gru":
            self.rec = GRUParams.init(embed_dim, hidden_size, rng=rng).arrays()
        else:
            H, E = hidden_size, embed_dim
            self.rec = [rng.uniform(-k, k, s) for s in ((H, E), (H, H), (H,), (H,))]
        self.weight = rng.uniform(-k, k, (vocab_size, hidden_size))  # (V, H)
        self.bias = np.zeros(vocab_size)

    def parameters(self) -> list[FloatArray]:
        return [self.embedding, *self.rec, self.weight, self.bias]

    def _recurrent(self, x: FloatArray) -> tuple[FloatArray, object]:
        if self.cell == "lstm":
            out, _, lstm_cache = lstm_forward(x, None, None, LSTMParams(*self.rec))
            return out, lstm_cache
        if self.cell == "gru":
            out, _, gru_cache = gru_forward(x, None, GRUParams(*self.rec))
            return out, gru_cache
        out, _, rnn_cache = rnn_forward(x, None, *self.rec)
        return out, rnn_cache

    def _recurrent_backward(self, d_out: FloatArray, cache: object) -> list[FloatArray]:
        if self.cell == "lstm":
            g = lstm_backward(d_out, None, None, cache)  # type: ignore[arg-type]
        elif self.cell == "gru":
            g = gru_backward(d_out, None, cache)  # type: ignore[arg-type, assignment]
        else:
            g = rnn_backward(d_out, None, cache)  # type: ignore[arg-type, assignment]
        return [g.x, g.weight_ih, g.weight_hh, g.bias_ih, g.bias_hh]

    def logits(self, inputs: IntArray) -> FloatArray:
        """inputs (T, N) character ids -> logits (T, N, V) of the next character."""
        out, _ = self._recurrent(self.embedding[inputs])
        return out @ self.weight.T + self.bias

    def loss_and_grads(self, ids: IntArray) -> tuple[float, list[FloatArray]]:
        """Mean cross-entropy of predicting ``ids[1:]`` from ``ids[:-1]``.

        ids: (T + 1, N). Returns the loss (nats per character) and the gradient
        of every array in :meth:`parameters`, in that order.
        """
        inputs, targets = ids[:-1], ids[1:]
        x = self.embedding[inputs]  # (T, N, E)
        h, cache = self._recurrent(x)  # (T, N, H)
        logits = h @ self.weight.T + self.bias  # (T, N, V)
        T, N, V = logits.shape
        flat, tgt = logits.reshape(T * N, V), targets.reshape(T * N)
        loss = float(np.mean(logsumexp(flat, dim=1) - flat[np.arange(T * N), tgt]))
        d_logits = softmax(flat, dim=1)  # softmax - onehot, averaged
        d_logits[np.arange(T * N), tgt] -= 1.0
        d_logits /= T * N
        d_weight = d_logits.T @ h.reshape(T * N, -1)
        d_h = (d_logits @ self.weight).reshape(h.shape)
        dx, *d_rec = self._recurrent_backward(d_h, cache)
        d_embedding = np.zeros_like(self.embedding)
        np.add.at(d_embedding, inputs, dx)  # a row gets every use's gradient
        return loss, [d_embedding, *d_rec, d_weight, d_logits.sum(axis=0)]

    def sample(
        self,
        prompt_ids: IntArray,
        length: int,
        temperature: float = 1.0,
        rng: np.random.Generator | None = None,
        allow_unknown: bool = False,
    ) -> IntArray:
        """Continue ``prompt_ids`` by ``length`` characters, one at a time.

        Each new character is drawn from ``softmax(logits / temperature)`` and fed
        back as the next input (the whole prefix is re-run: fine for a demo).
        Id 0 (:data:`UNKNOWN`) is never drawn unless ``allow_unknown``.
        """
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        rng = np.random.default_rng() if rng is None else rng
        ids = list(prompt_ids)
        for _ in range(length):
            last = self.logits(np.array(ids)[:, None])[-1, 0] / temperature
            if not allow_unknown:
                last[0] = -np.inf  # softmax gives it probability 0
            ids.append(int(rng.choice(len(last), p=softmax(last))))
        return np.array(ids[len(prompt_ids) :])


# --8<-- [end:charlm]


# --8<-- [start:train-charlm]
@dataclass
class CharLMConfig:
    cell: str = "lstm"  # "rnn", "lstm" or "gru"
    embed_dim: int = 32
    hidden_size: int = 128
    seq_len: int = 32  # characters per window (truncated BPTT length)
    batch_size: int = 32  # windows per step
    num_steps: int = 300
    optimizer: str = "adam"  # "adam" or "sgd"
    lr: float = 3e-3
    clip: float | None = 1.0  # max gradient norm; None = no clipping
    eval_every: int = 50
    seed: int = 0


@dataclass
class History:
    step: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)  # every step
    grad_norm: list[float] = field(default_factory=list)  # before clipping
    eval_step: list[int] = field(default_factory=list)
    val_perplexity: list[float] = field(default_factory=list)


def _windows(ids: IntArray, starts: IntArray, length: int) -> IntArray:
    """(length, len(starts)) slices of ``ids``, one window per column."""
    return ids[starts[None, :] + np.arange(length)[:, None]]


def perplexity(model: CharLM, ids: IntArray, seq_len: int, batch: int = 64) -> float:
    """``exp(mean loss)`` over consecutive windows covering ``ids``."""
    starts = np.arange(0, len(ids) - seq_len - 1, seq_len)
    losses = [
        model.loss_and_grads(_windows(ids, starts[i : i + batch], seq_len + 1))[0]
        for i in range(0, len(starts), batch)
    ]
    return float(np.exp(np.mean(losses)))


def train_charlm(
    train_ids: IntArray, val_ids: IntArray, vocab_size: int, config: CharLMConfig
) -> tuple[CharLM, History]:
    """Train on random windows of ``train_ids``; perplexity on ``val_ids``."""
    c = config
    rng = np.random.default_rng(c.seed)
    model = CharLM(vocab_size, c.embed_dim, c.hidden_size, c.cell, rng=rng)
    params = model.parameters()
    opt: Optimizer = (
        Adam(params, lr=c.lr) if c.optimizer == "adam" else SGD(params, lr=c.lr)
    )
    hist = History()
    for step in range(1, c.num_steps + 1):
        starts = rng.integers(0, len(train_ids) - c.seq_len - 1, c.batch_size)
        loss, grads = model.loss_and_grads(_windows(train_ids, starts, c.seq_len + 1))
        if c.clip is not None:
            norm = clip_grad_norm(grads, c.clip)  # rescales grads in place
        else:
            norm = float(np.sqrt(sum(float((g * g).sum()) for g in grads)))
        opt.step(grads)
        hist.step.append(step)
        hist.train_loss.append(loss)
        hist.grad_norm.append(norm)
        if step % c.eval_every == 0 or step == c.num_steps:
            hist.eval_step.append(step)
            hist.val_perplexity.append(perplexity(model, val_ids, c.seq_len))
    return model, hist


# --8<-- [end:train-charlm]


@dataclass(frozen=True)
class Corpus:
    vocab: Vocab
    train: IntArray  # the first 90 % of the text
    val: IntArray  # held-out characters after it
    unigram_perplexity: float  # of val under train's character frequencies


def notes_corpus(
    vocab_size: int = 400, val_chars: int = 3000, docs_dir: Path = DOCS_DIR
) -> Corpus:
    """The notes as ids: 90 % for training, ``val_chars`` after that held out.

    ``unigram_perplexity`` is the baseline a model that ignores the context
    reaches at best: it must beat it to have learned anything from the past.
    """
    if not docs_dir.is_dir():
        raise ValueError(f"docs_dir {docs_dir} is not a folder of notes")
    text = notes_text(docs_dir)
    vocab = Vocab.build(text, vocab_size)
    ids = vocab.encode(text)
    split = int(0.9 * len(ids))
    train, val = ids[:split], ids[split : split + val_chars]
    freq = np.bincount(train, minlength=len(vocab)) / len(train)
    unigram = float(np.exp(-np.mean(np.log(freq[val] + 1e-12))))
    return Corpus(vocab, train, val, unigram)
