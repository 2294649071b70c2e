"""Benchmark a note with deeply nested questions against the same questions flat.

One imported note holds ``--questions`` questions, each nested in the one before
(the page then holds ~2 MB of indentation and answers of ~n² lines); a second
docs folder holds the same questions side by side. Measured in one run, side by
side, in process:

* importing the raw note (``dlnotes import --write``);
* scanning the docs folder (every later command starts with it);
* resolving the deepest question (locate, lock, parse, verify, checked save).

Target: every nested figure within 10x of its flat twin (the nested page is ~60x
larger in bytes); scanning and resolving under 2 s.

Usage: python scripts/bench_nested_notes.py [--questions 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dlnotes.cli import main as cli_main  # noqa: E402
from dlnotes.kb.notes import KnowledgeBase  # noqa: E402
from dlnotes.kb.tracker import Tracker  # noqa: E402


def best(repeat: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(root: Path, raw: str, n: int, repeat: int) -> dict[str, float]:
    docs = root / "docs"
    docs.mkdir(parents=True)
    source = root / "raw.md"
    source.write_text(raw, encoding="utf-8")
    argv = ["import", str(source), "--to", "deep/x.md", "--topic", "deep"]
    argv += ["--write", "--force", "--docs", str(docs)]
    with contextlib.redirect_stderr(io.StringIO()):
        start = time.perf_counter()
        assert cli_main(argv) == 0
        imported = time.perf_counter() - start
    assert len(KnowledgeBase.scan(docs).questions) == n
    tracker = Tracker(docs)
    qid = f"Q-deep-{n:02d}"
    return {
        "import": imported,
        "scan": best(repeat, lambda: KnowledgeBase.scan(docs)),
        "resolve": best(
            repeat,
            lambda: tracker.resolve(
                qid, answer="答。", date="2026-01-01", force=True, replace_answer=True
            ),
        ),
        "bytes": (docs / "deep/x.md").stat().st_size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n = args.questions
    items = [f"- [ ] 问题 {i}？ #Q-deep-{i:02d}\n" for i in range(1, n + 1)]
    nested = "# 深\n\n" + "".join("  " * i + item for i, item in enumerate(items))
    flat = "# 平\n\n" + "".join(items)
    with tempfile.TemporaryDirectory() as tmp:
        f = measure(Path(tmp) / "flat", flat, n, args.repeat)
        d = measure(Path(tmp) / "nested", nested, n, args.repeat)
    size = f"flat page {f['bytes'] / 1e3:.0f} kB, nested {d['bytes'] / 1e6:.2f} MB"
    print(f"{n} questions: {size}")
    print(f"{'':8} {'flat':>8} {'nested':>8} {'ratio':>7}")
    for key in ("import", "scan", "resolve"):
        print(f"{key:8} {f[key]:7.3f}s {d[key]:7.3f}s {d[key] / f[key]:6.1f}x")


if __name__ == "__main__":
    main()
