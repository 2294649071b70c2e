"""Benchmark the ``mkdocs serve`` loop: save -> new text served.

Copies the project (``docs/``, ``dlnotes/``, ``mkdocs.yml``, the build caches) into a
temporary folder, starts a real ``mkdocs serve --livereload --dirty`` there (what
``make serve`` runs) and measures, side by side in one run, with the project's
plugins on and off (the ``dlnotes*`` plugins removed from
a copy of ``mkdocs.yml``; strict off, since pages then lack their figures):

* cold start: launch -> first page served                     target <= 60 s
* note edit: a sentence appended to a note -> served          target <= 1.5 s
* module edit: a comment inside a code region a page embeds
  (``--8<-- "dlnotes/...:region"``) -> served                 target <= 3 s
* new note: a page dropped into ``docs/inbox/`` -> served, and -> listed in the
  navigation of the page a browser shows (the home page; every page's navigation
  changes: the open ones are built first, the rest in the background)  <= 1.5 s
* with ``--pages 500``: the same note edit in a knowledge base with that many
  generated pages added (links, questions, code, math)        target <= 3 s

Page outputs are not executed (``DLNOTES_EXECUTE=false``): this measures the serve
loop, not running the pages' code (``dlnotes-outputs`` caches that on its own).
"never" means the new text was not served within 60 s.

* with ``--fresh``: ``make serve`` on a fresh clone (no caches, page outputs
  executed): first page served, and all background work done (page outputs, lab
  notebooks and figures run after the first build under serve)

Usage: python scripts/bench_serve.py [--repeat 3] [--pages 500] [--only on|off]
                                     [--fresh]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECT_PLUGINS = (
    "dlnotes",
    "dlnotes-figures",
    "dlnotes-graph",
    "dlnotes-obsidian",
    "dlnotes-outputs",
)
NOTE = "cnn/pooling.md"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fetch(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.read().decode("utf-8", errors="replace")
    except OSError:
        return None


def copy_project(dest: Path, *, caches: bool = True) -> None:
    for name in ("docs", "dlnotes"):
        shutil.copytree(
            ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "mkdocs.yml", dest / "mkdocs.yml")
    if caches and (ROOT / ".cache").is_dir():
        shutil.copytree(ROOT / ".cache", dest / ".cache")
    (dest / "node_modules").symlink_to(ROOT / "node_modules")


def plugins_off(config: str) -> str:
    """``mkdocs.yml`` without the project's plugins (and not strict)."""
    out: list[str] = []
    skip = in_plugins = False
    for line in config.splitlines():
        if re.match(r"\S", line):
            in_plugins = line.startswith("plugins:")
        m = re.match(r"  - ([\w-]+)(:?)\s*$", line) if in_plugins else None
        if m:
            skip = m.group(1) in PROJECT_PLUGINS
        elif not line.startswith("    ") and not line.startswith("  #"):
            skip = False
        if not skip:
            out.append(line)
    text = "\n".join(out) + "\n"
    return text.replace("strict: true", "strict: false")


WORDS = [
    *("卷积", "池化", "梯度", "反向传播", "参数共享", "特征图", "激活函数"),
    *("正则化", "批量归一化", "残差", "学习率", "损失函数", "过拟合", "感受野"),
    *("通道", "步幅", "填充", "权重", "偏置", "优化器"),
]


def generate_pages(docs: Path, n: int, seed: int = 0) -> None:
    """``n`` notes in ``docs/gen/tNN/``: prose, links, questions, code, math."""
    rng = random.Random(seed)
    names = [f"gen/t{i % 20:02d}/note-{i:03d}.md" for i in range(n)]
    for i, name in enumerate(names):
        path = docs / name
        path.parent.mkdir(parents=True, exist_ok=True)
        topic = name.split("/")[1]
        parts = [f"# 生成的笔记 {i}\n"]
        for s in range(4):
            parts.append(f"## 第 {s + 1} 节\n")
            for _ in range(3):
                words = "、".join(rng.choice(WORDS) for _ in range(12))
                target = names[rng.randrange(n)]
                rel = os.path.relpath(target, os.path.dirname(name))
                parts.append(f"这一段讲{words}，另见 [笔记 {target[-7:-3]}]({rel})。\n")
            parts.append("$$ y = \\sigma(Wx + b) $$\n")
            parts.append("```python\nimport numpy as np\nx = np.zeros(3)\n```\n")
        parts.append("## 疑问\n")
        for q in range(2):
            mark = rng.choice(" x")
            qid = f"Q-{topic}-{(i * 2 + q) % 100:02d}"
            parts.append(f"- [{mark}] 为什么{rng.choice(WORDS)}有效？ #{qid}{i}\n")
        path.write_text("\n".join(parts), encoding="utf-8")


class Server:
    def __init__(
        self,
        root: Path,
        config: str,
        ready: str,
        timeout: float,
        *,
        execute: bool = False,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = root / f"serve-{self.port}.log"
        env = dict(
            os.environ,
            NO_MKDOCS_2_WARNING="1",
            PYTHONPATH=str(root),
            OPENBLAS_NUM_THREADS="1",
            # page outputs (dlnotes-outputs) off: running every block of 500
            # generated pages is not the serve loop; they have their own cache
            DLNOTES_EXECUTE="true" if execute else "false",
        )
        start = time.monotonic()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mkdocs",
                "serve",
                "--livereload",
                "--dirty",
                "-f",
                config,
                "--dev-addr",
                f"127.0.0.1:{self.port}",
            ],
            cwd=root,
            env=env,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        while fetch(self.url + ready) is None:
            if self.proc.poll() is not None or time.monotonic() - start > timeout:
                self.stop()
                raise SystemExit(f"mkdocs serve did not start:\n{self.log.read_text()}")
            time.sleep(0.05)
        self.cold = time.monotonic() - start

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def time_edit(
    server: Server, page_url: str, edit: Callable[[str], None], timeout: float = 60
) -> float:
    """Seconds from the edit (file saved) to the page serving the new marker.

    ``inf`` when it is never served (plain ``mkdocs serve --dirty`` does not rebuild
    a page when only a file it embeds changed).
    """
    marker = f"bench{random.randrange(10**9):09d}"
    time.sleep(1.0)  # let the watcher settle after the previous build
    start = time.monotonic()
    edit(marker)
    while True:
        text = fetch(server.url + page_url)
        if text is not None and marker in text:
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            return float("inf")
        time.sleep(0.02)


def append_to(path: Path) -> Callable[[str], None]:
    def edit(marker: str) -> None:
        with path.open("a", encoding="utf-8") as f:
            f.write(f"\n这是一句新加的话 {marker}。\n")

    return edit


def embedded_region(docs: Path, pkg_root: Path) -> tuple[str, Path, str]:
    """A page, a module and a region it embeds: ``(page url, module, start line)``."""
    snippet = re.compile(r'--8<-- "(dlnotes/[\w/]+\.py):([\w-]+)"')
    for page in sorted(docs.rglob("*.md")):
        for m in snippet.finditer(page.read_text(encoding="utf-8")):
            module = pkg_root / m.group(1)
            start = f"# --8<-- [start:{m.group(2)}]"
            if start in module.read_text(encoding="utf-8"):
                rel = page.relative_to(docs).with_suffix("").as_posix()
                url = "/" + (
                    rel[: -len("index")] if rel.endswith("index") else rel + "/"
                )
                return url, module, start
    raise SystemExit("no page embeds a package region")


def comment_in_region(module: Path, start: str) -> Callable[[str], None]:
    def edit(marker: str) -> None:
        text = module.read_text(encoding="utf-8")
        at = text.index(start) + len(start)
        line_end = text.index("\n", at) + 1
        nxt = text[line_end:]
        indent = re.match(r"[ \t]*", nxt).group(0) if nxt else ""  # type: ignore[union-attr]
        module.write_text(
            text[:line_end] + f"{indent}# {marker}\n" + nxt, encoding="utf-8"
        )

    return edit


def measure(label: str, root: Path, config: str, repeat: int, module: bool) -> dict:
    docs = root / "docs"
    server = Server(root, config, "/" + NOTE[:-3] + "/", timeout=900)
    try:
        out = {"cold": server.cold}
        note = [
            time_edit(server, "/" + NOTE[:-3] + "/", append_to(docs / NOTE))
            for _ in range(repeat)
        ]
        out["note"] = statistics.median(note)
        # a new note: the navigation of every page changes. A browser shows the
        # home page (fetched just before, as a browser would): time until the new
        # note is served, and until it is in the home page's navigation
        fetch(server.url + "/")
        name = f"bench-{random.randrange(10**6):06d}"
        title: list[str] = []
        saved: list[float] = []

        def drop(marker: str) -> None:
            title.append(f"新笔记 {marker}")
            saved.append(time.monotonic())
            (docs / "inbox" / f"{name}.md").write_text(
                f"# {title[0]}\n\n见[池化](../cnn/pooling.md)。\n", "utf-8"
            )

        out["new"] = time_edit(server, f"/inbox/{name}/", drop)
        settle = saved[0]
        while time.monotonic() - settle < 60:
            if title[0] in (fetch(server.url + "/") or ""):
                out["new_nav"] = time.monotonic() - settle
                break
            time.sleep(0.02)
        else:
            out["new_nav"] = float("inf")
        if module:
            url, mod, start = embedded_region(docs, root)
            times = [
                time_edit(server, url, comment_in_region(mod, start))
                for _ in range(repeat)
            ]
            out["module"] = statistics.median(times)
            out["module_page"] = url
    finally:
        server.stop()
    print(f"  {label}: " + ", ".join(f"{k} {v}" for k, v in out.items()), flush=True)
    return out


def fresh_clone(tmp: str) -> dict[str, float]:
    """``make serve`` on a fresh clone: no caches, every page's code executed.

    Seconds to the first page, and until the background work (page outputs, lab
    notebooks, figures) is done (``background`` in ``__dlnotes/status.json``).
    """
    root = Path(tmp) / "fresh"
    copy_project(root, caches=False)
    server = Server(root, "mkdocs.yml", "/", timeout=900, execute=True)
    out = {"first": server.cold}
    start = time.monotonic() - server.cold
    try:
        while time.monotonic() - start < 1800:
            status = fetch(server.url + "/__dlnotes/status.json") or "{}"
            m = re.search(r'"background": (\d+)', status)
            if m and m.group(1) == "0":
                break
            time.sleep(1)
        out["done"] = time.monotonic() - start
    finally:
        server.stop()
    print("  fresh clone: " + ", ".join(f"{k} {v:.1f}" for k, v in out.items()))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--only", choices=("on", "off"))
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="also time make serve on a fresh clone (no caches; minutes)",
    )
    args = parser.parse_args()
    results: dict[str, dict[str, dict]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        fresh = fresh_clone(tmp) if args.fresh else None
        for scale in ("site", "kb"):
            if scale == "kb" and not args.pages:
                continue
            for variant in ("on", "off"):
                if args.only and variant != args.only:
                    continue
                root = Path(tmp) / f"{scale}-{variant}"
                copy_project(root)
                if scale == "kb":
                    generate_pages(root / "docs", args.pages)
                config = "mkdocs.yml"
                if variant == "off":
                    config = "mkdocs-off.yml"
                    (root / config).write_text(
                        plugins_off((root / "mkdocs.yml").read_text("utf-8")), "utf-8"
                    )
                label = f"{scale} ({'plugins ' + variant})"
                results.setdefault(scale, {})[variant] = measure(
                    label, root, config, args.repeat, module=scale == "site"
                )
    n_pages = len(list((ROOT / "docs").rglob("*.md")))
    print()
    print(
        f"{'save -> served (median of ' + str(args.repeat) + ')':44} "
        f"{'plugins on':>11} {'plugins off':>12} {'ratio':>7} {'target':>8}"
    )
    rows = [
        ("site", "cold", f"cold start, this site ({n_pages} pages)", 60),
        ("site", "note", "note edit", 1.5),
        ("site", "module", "package-module edit (embedded region)", 3),
        ("site", "new", "new note dropped into docs/inbox/: served", 1.5),
        ("site", "new_nav", "  ... and in the open page's navigation", 1.5),
        ("kb", "cold", f"cold start, +{args.pages} generated pages", None),
        ("kb", "note", f"note edit, +{args.pages} generated pages", 3),
    ]
    for scale, key, name, target in rows:
        on = results.get(scale, {}).get("on", {}).get(key)
        off = results.get(scale, {}).get("off", {}).get(key)
        if on is None and off is None:
            continue
        finite = on and off and float("inf") not in (on, off)
        ratio = f"{on / off:6.2f}x" if finite else ""

        def fmt(v: float | None) -> str:
            if v is None:
                return f"{'-':>11}"
            return f"{'never':>11}" if v == float("inf") else f"{v:10.2f}s"

        tgt = f"<= {target} s" if target else ""
        print(f"{name:44} {fmt(on)} {fmt(off):>12} {ratio:>7} {tgt:>8}")
    if fresh is not None:
        first, done = fresh["first"], fresh["done"]
        print(f"{'fresh clone (no caches): first page served':44} {first:10.2f}s")
        print(f"{'  ... all outputs, labs and figures done':44} {done:10.2f}s")


if __name__ == "__main__":
    main()
