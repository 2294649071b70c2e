"""Benchmark the Obsidian forms on the site: what dlnotes-obsidian adds to a build.

Measured side by side in one run, on docs/ and on a generated vault ten times its
size (500 notes, each with wikilinks to headings, an alias, an embed of a section,
a callout, a comment and tags):

* indexing the vault (``Vault.scan``: read, front matter, headings and anchors)
* rendering every note's Obsidian forms (``obsidian_render.render``)
* next to converting the same notes with Python-Markdown (the work MkDocs does for
  every page anyway): the ratio is the plugin's share of a build's Markdown time.

Usage: python scripts/bench_obsidian.py [--pages 500] [--repeat 3]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import markdown  # noqa: E402

from dlnotes.kb.obsidian_render import Options, render  # noqa: E402
from dlnotes.kb.wikilinks import Vault  # noqa: E402

EXTENSIONS = [
    "abbr",
    "admonition",
    "attr_list",
    "def_list",
    "footnotes",
    "md_in_html",
    "tables",
    "toc",
    "pymdownx.details",
    "pymdownx.mark",
    "pymdownx.superfences",
    "pymdownx.tasklist",
]


def generate(docs: Path, pages: int, seed: int = 0) -> None:
    """``pages`` notes in 10 topic folders, linking each other the Obsidian way."""
    rng = random.Random(seed)
    names = [f"topic{i % 10}/note{i:03d}" for i in range(pages)]
    for i, name in enumerate(names):
        others = rng.sample(names, 4)
        body = [
            "---",
            f"aliases: [别名{i}]",
            f"tags: [t{i % 7}]",
            "---",
            f"# 笔记 {i}",
            "",
            f"见 [[{others[0].split('/')[1]}]]、[[{others[1]}#第一节|第一节]] "
            f"与 [[别名{rng.randrange(pages)}]]。 #标签{i % 5}",
            "",
            "> [!tip]- 提示",
            f"> 折叠的内容，引用 [[{others[2].split('/')[1]}#第二节]]。",
            "",
            "公开的一句 %%私密的想法%% 继续。",
            "",
            "## 第一节",
            "",
            "正文。" * 40,
            "",
            f"![[{others[3].split('/')[1]}#第二节]]",
            "",
            "## 第二节",
            "",
            "```python",
            "x = [[1, 2], [3, 4]]  # [[不是链接]]",
            "```",
            "",
            "- [ ] 一个问题？ #Q-t-" + f"{i + 1:02d}",
        ]
        path = docs / f"{name}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(body) + "\n", encoding="utf-8")


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def measure(docs: Path, label: str, repeat: int) -> None:
    vault = Vault.scan(docs)
    texts = {p: (docs / p).read_text(encoding="utf-8") for p in vault.pages}

    def render_all() -> None:
        for page, text in texts.items():
            render(text, page, vault, texts.__getitem__, Options())

    def markdown_all() -> None:
        md = markdown.Markdown(extensions=EXTENSIONS)
        for text in texts.values():
            md.reset().convert(text)

    t_index = best(lambda: Vault.scan(docs), repeat)
    t_render = best(render_all, repeat)
    t_md = best(markdown_all, repeat)
    n = len(texts)
    print(f"{label}: {n} notes")
    print(f"  index the vault (Vault.scan)      {t_index:7.3f} s")
    print(f"  render the Obsidian forms         {t_render:7.3f} s")
    print(f"  Python-Markdown, same notes       {t_md:7.3f} s")
    print(
        f"  plugin / Markdown                 {(t_index + t_render) / t_md:7.2f}x"
        f"   ({1000 * (t_index + t_render) / n:.1f} ms a note)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    measure(ROOT / "docs", "docs/", args.repeat)
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp), args.pages)
        measure(Path(tmp), "generated vault", args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
