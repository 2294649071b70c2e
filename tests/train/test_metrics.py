"""dlnotes.train.metrics: the progress bar."""

from __future__ import annotations

import io

from dlnotes.train.metrics import ProgressBar


def test_progress_bar_line() -> None:
    stream = io.StringIO()  # not a terminal: only the final line is written
    bar = ProgressBar(10, "epoch 1/3", stream=stream, width=10)
    bar.update(5, {"loss": "0.5000", "": "123 img/s"})
    assert stream.getvalue() == ""
    bar.update(10, {"loss": "0.2500", "": "456 img/s"})
    bar.close()
    assert stream.getvalue() == "epoch 1/3 [##########] 10/10 loss 0.2500 456 img/s\n"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_live_bar_redraws_in_place_and_ends_its_line_once() -> None:
    stream = _Terminal()
    bar = ProgressBar(4, "epoch 1/1", stream=stream, width=4)
    bar.update(1, {"loss": "1.0"})
    assert stream.getvalue() == "\repoch 1/1 [#...] 1/4 loss 1.0\x1b[K"
    bar.close()  # e.g. from the finally of an interrupted epoch
    bar.close()
    assert stream.getvalue().endswith("\repoch 1/1 [#...] 1/4 loss 1.0\n")
    assert stream.getvalue().count("\n") == 1
