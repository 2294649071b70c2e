"""What a run shows and records: the progress bar, the metrics files, the plot."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from dlnotes.fileio import atomic_write

__all__ = ["METRIC_KEYS", "ProgressBar", "plot_history", "write_metrics"]

METRIC_KEYS = (
    *("epoch", "step", "lr", "train_loss", "train_acc", "test_loss", "test_acc"),
    *("images_per_s", "epoch_time_s"),
)
"""The columns of ``metrics.csv`` (one row per epoch)."""


class ProgressBar:
    """A one-line progress bar on ``stream`` (stderr), redrawn with ``\\r``.

    When ``stream`` is not a terminal only the final line of each bar is
    written, so log files stay readable. :meth:`close` ends the line; call it
    also when the epoch is cut short (an interrupt, a NaN), so that whatever is
    printed next starts on a fresh line.
    """

    def __init__(
        self,
        total: int,
        desc: str,
        *,
        stream: TextIO | None = None,
        enabled: bool = True,
        width: int = 24,
    ) -> None:
        self.total, self.desc, self.width = total, desc, width
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.live = enabled and self.stream.isatty()
        self.line = ""

    def update(self, done: int, fields: Mapping[str, str]) -> None:
        """Redraw with ``done`` of ``total`` and ``fields`` (name -> text)."""
        frac = done / self.total if self.total else 1.0
        filled = round(self.width * frac)
        bar = "#" * filled + "." * (self.width - filled)
        info = " ".join(f"{k} {v}" if k else v for k, v in fields.items())
        self.line = f"{self.desc} [{bar}] {done}/{self.total} {info}"
        if self.live:
            self.stream.write("\r" + self.line + "\x1b[K")
            self.stream.flush()

    def close(self) -> None:
        """Write the last state of the bar and end its line (once)."""
        if self.enabled and self.line:
            self.stream.write(("\r" if self.live else "") + self.line + "\n")
            self.stream.flush()
        self.line = ""


def write_metrics(history: Sequence[Mapping[str, Any]], run_dir: Path) -> None:
    """``metrics.csv`` and ``metrics.jsonl`` (one row per epoch), rewritten whole
    from ``history`` so that a resumed run never repeats or loses a row."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=METRIC_KEYS, lineterminator="\n")
    writer.writeheader()
    for row in history:
        writer.writerow({k: "" if row.get(k) is None else row[k] for k in METRIC_KEYS})
    atomic_write(run_dir / "metrics.csv", buf.getvalue().encode("utf-8"))
    lines = "".join(json.dumps(dict(row)) + "\n" for row in history)
    atomic_write(run_dir / "metrics.jsonl", lines.encode("utf-8"))


def plot_history(history: Sequence[Mapping[str, Any]]) -> Any:
    """A matplotlib Figure: loss and accuracy per epoch, train and test."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.4), layout="constrained")
    ax_loss, ax_acc = fig.subplots(1, 2)
    epochs = [r["epoch"] for r in history]
    for ax, key, label in ((ax_loss, "loss", "loss"), (ax_acc, "acc", "accuracy")):
        for split, style in (("train", "-o"), ("test", "--s")):
            pts = [
                (e, r[f"{split}_{key}"])
                for e, r in zip(epochs, history, strict=True)
                if r.get(f"{split}_{key}") is not None
            ]
            if pts:
                ax.plot(*zip(*pts, strict=True), style, ms=3, label=split)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    ax_loss.set_title("cross-entropy loss")
    ax_acc.set_title("accuracy")
    return fig
