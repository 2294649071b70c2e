"""Benchmark: the cost of build-time outputs on a warm ``mkdocs build``.

Builds the site side by side, alternating: with ``dlnotes-outputs`` executing
(``DLNOTES_EXECUTE=true``, the default) and with execution turned off
(``DLNOTES_EXECUTE=false``), each into a fresh temporary folder. With nothing changed
the executing build must start no kernel (read from its log) and cost at most
``--max-ratio`` (1.2) times the build without execution. ``--cold`` first times one
build with an empty outputs cache (every page's code runs), in a temporary cache
folder, so the project's cache is left as it is.

Usage: python scripts/bench_build.py [--repeats N] [--cold] [--max-ratio R]
Exit code 1 when the warm build starts a kernel or the ratio is over the limit.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KERNELS = re.compile(r"dlnotes-outputs: .*?(\d+) executed, (\d+) kernels started")


def build(execute: bool, cache: str | None = None) -> tuple[float, int, int]:
    """One strict build; returns (seconds, pages executed, kernels started)."""
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    env["DLNOTES_EXECUTE"] = "true" if execute else "false"
    if cache:
        env["DLNOTES_OUTPUTS_CACHE"] = cache
    with tempfile.TemporaryDirectory(prefix="dlnotes-bench-site-") as site:
        cmd = [sys.executable, "-m", "mkdocs", "build", "--strict"]
        cmd += ["--site-dir", site]
        started = time.perf_counter()
        proc = subprocess.run(
            cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False
        )
        seconds = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"error: mkdocs build failed:\n{proc.stderr[-3000:]}")
    m = KERNELS.search(proc.stderr)
    if execute and not m:
        sys.exit("error: no dlnotes-outputs summary in the build log")
    pages, kernels = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
    return seconds, pages, kernels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="builds of each kind")
    parser.add_argument("--cold", action="store_true", help="also time a cold build")
    parser.add_argument("--max-ratio", type=float, default=1.2)
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")

    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    if args.cold:
        with tempfile.TemporaryDirectory(prefix="dlnotes-bench-cache-") as cache:
            seconds, pages, kernels = build(True, cache)
        print(
            f"cold build (empty outputs cache): {seconds:6.1f} s, "
            f"{pages} pages executed, {kernels} kernels started"
        )
    build(True)  # make sure the project's cache is warm
    on: list[float] = []
    off: list[float] = []
    started: list[int] = []
    for i in range(args.repeats):
        s_on, _, kernels = build(True)
        s_off, _, _ = build(False)
        on.append(s_on)
        off.append(s_off)
        started.append(kernels)
        print(
            f"run {i + 1}: warm with outputs {s_on:6.1f} s ({kernels} kernels) | "
            f"execution off {s_off:6.1f} s | ratio {s_on / s_off:.2f}"
        )
    ratio = statistics.median(on) / statistics.median(off)
    print(
        f"median: warm with outputs {statistics.median(on):.1f} s, execution off "
        f"{statistics.median(off):.1f} s, ratio {ratio:.2f} (limit {args.max_ratio})"
    )
    ok = ratio <= args.max_ratio and not any(started)
    if any(started):
        print("FAIL: a warm build started kernels")
    print("OK" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
