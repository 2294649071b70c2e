"""Benchmark the study tracker on a generated knowledge base.

Generates ``--pages`` pages holding ``--questions`` questions (half of them resolved
with an answer), 5 resources per page and a study plan on every tenth page, in a
temporary folder, then measures, side by side in one run:

* listing every question (``dlnotes questions``: scan + parse + print), in process and
  as a command (interpreter start-up included)            target <= 1 s
* resolving one question with an answer (``dlnotes resolve``: locate, lock, verify,
  atomic write), in process and as a command               target <= 0.5 s
* ``mkdocs build`` of the same pages with the dlnotes plugin's tracker rendering on
  (badges, anchors, progress page) and off                 target: <= 15 % more

Usage: python scripts/bench_tracker.py [--pages 1000] [--questions 10000] [--repeat 1]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dlnotes.cli import main as cli_main  # noqa: E402
from dlnotes.kb.notes import KnowledgeBase  # noqa: E402
from dlnotes.kb.tracker import Tracker  # noqa: E402

CONFIG = """\
site_name: bench
theme:
  name: material
  language: zh
  font: false
markdown_extensions:
  - admonition
  - attr_list
  - md_in_html
  - toc:
      permalink: true
      slugify: !!python/object/apply:pymdownx.slugs.slugify
        kwds:
          case: lower
  - pymdownx.superfences
  - pymdownx.tasklist:
      custom_checkbox: true
plugins:
  - dlnotes:
      vendor: false
      tracker: {tracker}
"""

WORDS = [
    "卷积",
    "参数共享",
    "特征图",
    "反向传播",
    "梯度",
    "残差",
    "归一化",
    "迁移学习",
    "池化",
    "感受野",
    "kernel",
    "stride",
    "padding",
    "ResNet",
    "BatchNorm",
    "dropout",
]


def _sentence(rng: random.Random, n: int) -> str:
    return "".join(
        rng.choice(WORDS) + ("，" if rng.random() < 0.2 else " ") for _ in range(n)
    )


def generate(docs: Path, pages: int, questions: int, seed: int = 0) -> None:
    """Write ``pages`` topic pages with ``questions`` questions in all."""
    rng = random.Random(seed)
    per_page = [
        questions // pages + (1 if i < questions % pages else 0) for i in range(pages)
    ]
    for i in range(pages):
        topic = f"t{i // 100:02d}"
        folder = docs / topic
        folder.mkdir(parents=True, exist_ok=True)
        out = [f"# 第 {i} 页 {_sentence(rng, 2)}", "", _sentence(rng, 40), ""]
        out += ["## 推导", "", "$$y = Wx + b$$", "", _sentence(rng, 60), ""]
        out += ["```python", "def f(x):", "    return x * 2", "```", ""]
        out += ["## 疑问", ""]
        for k in range(per_page[i]):
            qid = f"Q-p{i:04d}-{k + 1:02d}"
            if k % 2:
                out += [
                    f"- [x] {_sentence(rng, 6)}？ #{qid} ✅ 2026-0{k % 9 + 1}-1{k % 9}",
                    "",
                    f"    {_sentence(rng, 25)}",
                    "",
                ]
            else:
                out.append(f"- [ ] {_sentence(rng, 6)}？ #{qid}")
        out += ["", "## 资料", ""]
        for k in range(5):
            mark = " /x"[k % 3]
            out.append(f"- [{mark}] [{_sentence(rng, 3)}](https://example.org/{i}/{k})")
        if i % 10 == 0:
            out += ["", "## 学习计划", ""]
            out += [
                f"- [{' /x'[k % 3]}] 第 {k + 1} 章 {_sentence(rng, 3)}"
                for k in range(12)
            ]
        (folder / f"page{i:04d}.md").write_text("\n".join(out) + "\n", encoding="utf-8")
    (docs / "index.md").write_text("# 基准\n\n生成的知识库。\n", encoding="utf-8")


Timing = tuple[float, float]  # (wall seconds, CPU seconds)


def _timed(fn: object, repeat: int) -> Timing:
    """Best wall and CPU time of ``fn()`` in this process."""
    best = (float("inf"), float("inf"))
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()  # type: ignore[operator]
        best = min(best, (time.perf_counter() - wall, time.process_time() - cpu))
    return best


def _child(cmd: list[str], cwd: Path) -> Timing:
    """Wall and CPU (user + sys) time of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    subprocess.run(
        cmd,
        cwd=cwd,
        check=True,
        stdout=subprocess.DEVNULL,
        env=dict(os.environ, NO_MKDOCS_2_WARNING="1"),
    )
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _command(args: list[str]) -> Timing:
    return _child([sys.executable, "-m", "dlnotes", *args], ROOT)


def _build(project: Path, tracker: bool) -> Timing:
    (project / "mkdocs.yml").write_text(
        CONFIG.format(tracker=str(tracker).lower()), encoding="utf-8"
    )
    site = str(project / "site")
    return _child([sys.executable, "-m", "mkdocs", "build", "-q", "-d", site], project)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--questions", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=1, help="take the best of N")
    parser.add_argument(
        "--no-build", action="store_true", help="skip the mkdocs builds"
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated folder")
    args = parser.parse_args(argv)
    if args.pages < 1 or args.questions < 0:
        parser.error("--pages must be >= 1 and --questions >= 0")

    project = Path(tempfile.mkdtemp(prefix="dlnotes-bench-"))
    docs = project / "docs"
    try:
        generate(docs, args.pages, args.questions)
        kb = KnowledgeBase.scan(docs)
        print(
            f"knowledge base: {len(kb.pages)} pages, {len(kb.questions)} questions, "
            f"{len(kb.resources)} resources, {len(kb.chapters)} plan chapters"
        )
        sink = io.StringIO()

        def listing() -> None:
            with contextlib.redirect_stdout(sink):
                cli_main(["questions", "--docs", str(docs)])

        tracker = Tracker(docs)
        target = f"Q-p{args.pages // 2:04d}-01"
        list_in = _timed(listing, args.repeat)
        list_cmd = min(
            _command(["questions", "--docs", str(docs)]) for _ in range(args.repeat)
        )
        resolve_in = _timed(
            lambda: tracker.resolve(target, answer="基准测试的答案。\n\n$$a = b$$"),
            args.repeat,
        )
        target2 = f"Q-p{args.pages // 3:04d}-01"
        resolve_cmd = _command(
            ["resolve", target2, "--answer", "命令行的答案", "--docs", str(docs)]
        )
        rows = [
            ("list questions (in process)", list_in, 1.0),
            ("list questions (command)", list_cmd, 1.0),
            ("resolve one (in process)", resolve_in, 0.5),
            ("resolve one (command)", resolve_cmd, 0.5),
        ]
        print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        print(f"{'measure':<30}{'wall s':>9}{'CPU s':>9}{'target':>9}  ok (wall)")
        for name, (wall, cpu), limit in rows:
            ok = "yes" if wall <= limit else "NO"
            print(f"{name:<30}{wall:>9.3f}{cpu:>9.3f}{limit:>9.2f}  {ok}")
        if not args.no_build:
            offs, ons = [], []
            for _ in range(args.repeat):  # interleaved, so both see the same load
                offs.append(_build(project, False))
                ons.append(_build(project, True))
            off, on = min(offs), min(ons)
            print(f"{'mkdocs build, tracker off':<30}{off[0]:>9.2f}{off[1]:>9.2f}")
            print(f"{'mkdocs build, tracker on':<30}{on[0]:>9.2f}{on[1]:>9.2f}")
            wall_share = (on[0] - off[0]) / off[0]
            cpu_share = (on[1] - off[1]) / off[1]
            ok = "yes" if wall_share <= 0.15 else "NO"
            print(
                f"{'tracker share of the build':<30}{wall_share:>9.1%}{cpu_share:>9.1%}"
                f"{'15%':>9}  {ok}"
            )
    finally:
        if args.keep:
            print(f"kept {project}")
        else:
            shutil.rmtree(project, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
