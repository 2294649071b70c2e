"""Figure of the character-level language model (trained on the notes' text).

* ``charlm-training``: validation perplexity of LSTM and GRU language models
  while they train, against the unigram baseline; and a vanilla RNN trained with a
  large SGD step, with and without gradient clipping.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from dlnotes.numpy.charlm import CharLMConfig, notes_corpus, train_charlm
from dlnotes.viz import figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# --8<-- [start:charlm-settings]
SMALL = CharLMConfig(embed_dim=16, hidden_size=64, seq_len=24, batch_size=16)
MODELS = {  # cell -> config: Adam, clipping at 1, the same data order
    cell: replace(SMALL, cell=cell, lr=1e-2, num_steps=200, eval_every=20)
    for cell in ("lstm", "gru")
}
CLIPPING = {  # vanilla RNN, plain SGD with a large step, clipped or not
    name: replace(SMALL, cell="rnn", optimizer="sgd", lr=3.0, clip=clip, num_steps=120)
    for name, clip in (("no clipping", None), ("clip norm at 1", 1.0))
}
# --8<-- [end:charlm-settings]


@figure("charlm-training")
def charlm_training() -> Figure:
    import matplotlib.pyplot as plt

    corpus = notes_corpus()
    V = len(corpus.vocab)
    fig, axes = plt.subplots(1, 3, figsize=(14, 4), layout="constrained")
    for cell, cfg in MODELS.items():
        _, hist = train_charlm(corpus.train, corpus.val, V, cfg)
        axes[0].plot(
            hist.eval_step, hist.val_perplexity, "o-", ms=3, label=cell.upper()
        )
    axes[0].axhline(
        corpus.unigram_perplexity, color="0.5", ls="--", label="character frequencies"
    )
    axes[0].set(
        title=f"held-out perplexity ({V} characters)",
        xlabel="training step (Adam, 16 windows x 24 chars)",
        ylabel="perplexity",
    )
    axes[0].legend(fontsize=8)
    for name, cfg in CLIPPING.items():
        _, hist = train_charlm(corpus.train, corpus.val, V, cfg)
        axes[1].plot(hist.step, hist.train_loss, lw=1, label=name)
        axes[2].semilogy(hist.step, hist.grad_norm, lw=1, label=name)
    axes[1].set(
        title="vanilla RNN, SGD lr = 3: training loss",
        xlabel="step",
        ylabel="cross-entropy (nats / char)",
    )
    axes[2].axhline(1.0, color="0.5", ls=":", label="clipping threshold")
    axes[2].set(title="gradient norm before clipping", xlabel="step")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8)
    axes[2].legend(fontsize=8)
    return fig
