"""Benchmark spaced review on a generated 1,000-page / 10,000-question knowledge base.

Half of the questions are answered; half of those carry a review state (some due).
Measured side by side in one run:

* the due list (``dlnotes review --due``: scan, parse, review states, sort) next to
  a plain scan of the same notes (the floor any command pays)      target <= 1 s
* recording one grade (``grade_question``: locate, lock, FSRS, verified atomic
  write of one line) next to resolving one question                target <= 0.5 s

Usage: python scripts/bench_review.py [--pages 1000] [--questions 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dlnotes.kb.notes import KnowledgeBase  # noqa: E402
from dlnotes.kb.review import (  # noqa: E402
    ReviewState,
    cards_of,
    due_cards,
    grade_question,
)
from dlnotes.kb.tracker import Tracker  # noqa: E402

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


def generate(docs: Path, pages: int, questions: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    per_page = questions // pages
    answered: list[str] = []
    for p in range(pages):
        topic = f"t{p // 50}"
        folder = docs / topic
        folder.mkdir(parents=True, exist_ok=True)
        lines = [f"# 页面 {p}", "", "一些正文。" * 20, "", "## 疑问", ""]
        for k in range(per_page):
            qid = f"Q-{topic}-{p % 50 * per_page + k + 1:02d}"
            if k % 2:
                lines.append(f"- [ ] 第 {p} 页的第 {k} 个问题？ #{qid}")
                continue
            comment = ""
            if k % 4 == 0:
                due = NOW + dt.timedelta(days=rng.randint(-5, 30))
                state = ReviewState(
                    due=due,
                    stability=rng.uniform(1, 60),
                    difficulty=rng.uniform(1, 10),
                    last=due - dt.timedelta(days=3),
                    log=((dt.date(2026, 11, 20), 3),),
                )
                comment = " " + state.comment()
            lines += [
                f"- [x] 第 {p} 页的第 {k} 个问题？ #{qid} ✅ 2026-11-2{k % 10}"
                + comment,
                "",
                f"    答案 {k}：$a_{k} = b$，见代码。",
                "",
            ]
            answered.append(qid)
        (folder / f"p{p:04d}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return answered


def best(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """The best (wall, CPU) seconds of ``repeat`` runs; CPU time is what a loaded
    machine does not inflate."""
    times = []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        times.append((time.perf_counter() - t, time.process_time() - c))
    return min(w for w, _ in times), min(c for _, c in times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--questions", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        docs = Path(tmp) / "docs"
        answered = generate(docs, args.pages, args.questions)
        tracker = Tracker(docs)

        def due_list() -> int:
            return len(due_cards(cards_of(tracker.scan()), NOW))

        scan = best(lambda: KnowledgeBase.scan(docs), args.repeat)
        due = best(due_list, args.repeat)
        qids = iter(random.Random(1).sample(answered, 2 * args.repeat + 2))
        grade = best(
            lambda: grade_question(tracker, next(qids), 3, now=NOW), args.repeat
        )
        opened = [q.id for q in tracker.scan().questions if q.status == "open"]
        open_ids = iter(opened[: args.repeat + 1])
        resolve = best(
            lambda: tracker.resolve(next(open_ids), answer="答案。", date="2026-12-01"),
            args.repeat,
        )
        print(f"{args.pages} pages, {args.questions} questions, {due_list()} due")
        print(f"{'':21}  {'wall':>7}  {'CPU':>7}  ratio (CPU)")
        rows = [
            ("plain scan", scan, ""),
            ("due list", due, f"{due[1] / scan[1]:4.2f}x scan     target <= 1 s"),
            ("resolve one question", resolve, ""),
            (
                "grade one card",
                grade,
                f"{grade[1] / resolve[1]:4.2f}x resolve  <= 0.5 s",
            ),
        ]
        for name, (wall, cpu), note in rows:
            print(f"{name:<21}  {wall:7.3f}  {cpu:7.3f}  {note}")
        ok = due[1] <= 1.0 and grade[1] <= 0.5
        print("targets met" if ok else "TARGET MISSED")
        return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
