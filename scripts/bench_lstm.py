"""Benchmark: NumPy LSTM forward (dlnotes.numpy.lstm) vs torch.nn.LSTM on the CPU.

``lstm_forward_fast`` (the fused kernel) and ``lstm_forward`` (the readable one,
written like the equations) run the same weights on the same input as
``torch.nn.LSTM``, with the same number of threads (torch intra-op threads and
the BLAS threads NumPy uses); the timings are interleaved (torch, fast,
readable, torch, ...) so that a busy machine slows all alike, and the medians
are compared in one run. The target is for the fast kernel.

    python scripts/bench_lstm.py                  # T=50, N=32, 128→256, float32
    python scripts/bench_lstm.py --dtype float64 --repeats 50
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="NumPy LSTM forward vs torch.nn.LSTM forward on the CPU "
        "(median of interleaved repeats, same thread count, same weights).",
    )
    parser.add_argument("--seq-len", type=int, default=50, help="T (default 50)")
    parser.add_argument("--batch", type=int, default=32, help="N (default 32)")
    parser.add_argument("--input-size", type=int, default=128, help="D (default 128)")
    parser.add_argument("--hidden-size", type=int, default=256, help="H (default 256)")
    parser.add_argument(
        "--dtype",
        choices=["float32", "float64"],
        default="float32",
        help="element type of weights and input (default float32)",
    )
    parser.add_argument("--repeats", type=int, default=30, help="timed runs each")
    parser.add_argument(
        "--threads",
        type=int,
        default=os.cpu_count() or 1,
        help="threads for torch and for NumPy's BLAS (default: all cores)",
    )
    args = parser.parse_args(argv)
    for name in ("seq_len", "batch", "input_size", "hidden_size", "repeats", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import numpy as np
    import torch
    from threadpoolctl import threadpool_limits

    from dlnotes.complexity import lstm_macs
    from dlnotes.numpy.lstm import lstm_forward, lstm_forward_fast, params_from_torch

    torch.set_num_threads(args.threads)
    torch_dtype = getattr(torch, args.dtype)
    torch.manual_seed(0)
    T, N, D, H = args.seq_len, args.batch, args.input_size, args.hidden_size
    module = torch.nn.LSTM(D, H, dtype=torch_dtype)
    params = params_from_torch(module)
    x = np.random.default_rng(0).standard_normal((T, N, D)).astype(args.dtype)
    x_t = torch.from_numpy(x)

    def run_torch() -> None:
        with torch.no_grad():
            module(x_t)

    def run_fast() -> None:
        lstm_forward_fast(x, None, None, params)

    def run_readable() -> None:
        lstm_forward(x, None, None, params)

    with threadpool_limits(limits=args.threads, user_api="blas"):
        with torch.no_grad():
            ref = module(x_t)[0].numpy()
        err = float(np.abs(lstm_forward_fast(x, None, None, params)[0] - ref).max())
        fns: dict[str, Callable[[], None]] = {
            "torch": run_torch,
            "fast": run_fast,
            "readable": run_readable,
        }
        runs: dict[str, list[float]] = {name: [] for name in fns}
        for fn in fns.values():  # warm-up
            fn()
            fn()
        for _ in range(args.repeats):
            for name, fn in fns.items():
                start = time.perf_counter()
                fn()
                runs[name].append(time.perf_counter() - start)

    t = {name: statistics.median(times) for name, times in runs.items()}
    macs = lstm_macs(T, N, D, H)
    print(
        f"LSTM forward T={T} N={N} {D}->{H} {args.dtype}, threads={args.threads}, "
        f"median of {args.repeats} (gate GEMMs: {macs / 1e6:.0f} MMACs)"
    )
    labels = {
        "torch": "torch.nn.LSTM",
        "fast": "dlnotes lstm_forward_fast",
        "readable": "dlnotes lstm_forward",
    }
    for name, label in labels.items():
        print(
            f"  {label:26} {t[name] * 1e3:8.2f} ms  "
            f"({macs / t[name] / 1e9:5.1f} GMAC/s)"
        )
    print(
        f"  ratio fast / torch         {t['fast'] / t['torch']:8.2f}x  (target: <= 3x)"
    )
    print(f"  ratio readable / fast      {t['readable'] / t['fast']:8.2f}x")
    print(f"  max |difference| of outputs (fast vs torch): {err:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
