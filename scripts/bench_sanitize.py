"""Benchmark the page sanitiser against the Markdown rendering of the same notes.

For every Markdown note under ``docs/`` the script renders it with the site's own
Markdown extensions (from ``mkdocs.yml``), then, alternating in one run, times

* rendering the Markdown to HTML (what MkDocs does for each page), and
* sanitising that HTML with :func:`dlnotes.site.sanitize.sanitize` plus the check
  :func:`~dlnotes.site.sanitize.removed` the plugin runs to log removals,

and prints the totals and their ratio: what the sanitiser adds to the Markdown part
of a build. It also reports the notes where sanitising removed something (none of
the real notes should need it).

Usage: python scripts/bench_sanitize.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import markdown  # noqa: E402
from mkdocs.config import load_config  # noqa: E402

from dlnotes.site.sanitize import removed, sanitize  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="rounds (median)")
    args = parser.parse_args()
    os.chdir(ROOT)
    config = load_config(str(ROOT / "mkdocs.yml"))
    md = markdown.Markdown(
        extensions=config.markdown_extensions, extension_configs=config.mdx_configs
    )
    notes = sorted((ROOT / "docs").rglob("*.md"))
    texts = [p.read_text(encoding="utf-8") for p in notes]
    html = [md.reset().convert(t) for t in texts]
    print(f"{len(notes)} notes, {sum(map(len, html)) / 1e6:.2f} MB of HTML")
    render_t, clean_t = [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        for t in texts:
            md.reset().convert(t)
        t1 = time.perf_counter()
        for h in html:
            removed(h, sanitize(h))
        t2 = time.perf_counter()
        render_t.append(t1 - t0)
        clean_t.append(t2 - t1)
    render, clean = statistics.median(render_t), statistics.median(clean_t)
    print(f"Markdown rendering   {render * 1000:8.1f} ms")
    print(f"sanitise + check     {clean * 1000:8.1f} ms")
    print(f"ratio sanitise / render: {clean / render:.2f}")
    lost = {
        p.relative_to(ROOT / "docs").as_posix(): removed(h, sanitize(h))
        for p, h in zip(notes, html, strict=True)
    }
    lost = {k: v for k, v in lost.items() if v}
    print(f"notes where sanitising removed something: {len(lost)}")
    for page, what in lost.items():
        print(f"  {page}: {', '.join(what)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
