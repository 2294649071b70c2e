"""Benchmark: NumPy im2col conv2d vs torch.nn.functional.conv2d on the CPU.

Times forward + backward (dx, dweight, dbias) of a 3x3, padding-1 convolution
(default N=8, C=64 -> 64, 56x56, the shape of a ResNet stage-1 layer) with both
implementations in the same process, interleaved, with the same number of
threads (torch.set_num_threads = the BLAS threads NumPy uses), and prints the
medians and their ratio side by side.

    python scripts/bench_conv.py            # float32, 7 repeats
    python scripts/bench_conv.py --dtype float64 --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np


def blas_threads() -> int:
    """Threads of the BLAS library NumPy calls (via threadpoolctl)."""
    from threadpoolctl import threadpool_info

    for pool in threadpool_info():
        if pool.get("user_api") == "blas":
            return int(pool["num_threads"])
    return 1


def median_time(fn: Callable[[], object], repeats: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=8, help="N (default 8)")
    parser.add_argument("--channels", type=int, default=64, help="C_in = C_out")
    parser.add_argument("--size", type=int, default=56, help="H = W (default 56)")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs (median)")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads for both (default: NumPy's BLAS threads)",
    )
    args = parser.parse_args(argv)

    import torch
    from threadpoolctl import threadpool_limits

    from dlnotes.numpy.conv import conv2d_backward_im2col, conv2d_forward_im2col

    threads = args.threads or blas_threads()
    torch.set_num_threads(threads)
    dtype = np.dtype(args.dtype)
    N, C, S = args.batch, args.channels, args.size
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, S, S)).astype(dtype)
    w = (rng.standard_normal((C, C, 3, 3)) / np.sqrt(9 * C)).astype(dtype)
    b = rng.standard_normal(C).astype(dtype)
    dout = rng.standard_normal((N, C, S, S)).astype(dtype)

    def numpy_step() -> object:
        out = conv2d_forward_im2col(x, w, b, padding=1)
        return out, conv2d_backward_im2col(dout, x, w, padding=1)

    xt = torch.from_numpy(x).requires_grad_()
    wt = torch.from_numpy(w).requires_grad_()
    bt = torch.from_numpy(b).requires_grad_()
    dt = torch.from_numpy(dout)

    def torch_step() -> object:
        xt.grad = wt.grad = bt.grad = None
        out = torch.nn.functional.conv2d(xt, wt, bt, padding=1)
        out.backward(dt)
        return out

    with threadpool_limits(limits=threads, user_api="blas"):
        # correctness first: the two must agree
        out, (dx, _, _) = numpy_step()  # type: ignore[misc]
        ref = torch_step()
        rel = float(
            np.abs(out - ref.detach().numpy()).max()
            / np.abs(ref.detach().numpy()).max()
        )
        rel_dx = float(np.abs(dx - xt.grad.numpy()).max() / np.abs(dx).max())
        torch_step()
        numpy_step()
        np_times, th_times = [], []
        for _ in range(args.repeats):  # interleave to share any machine noise
            np_times.append(median_time(numpy_step, 1)[0])
            th_times.append(median_time(torch_step, 1)[0])

    np_med, th_med = statistics.median(np_times), statistics.median(th_times)
    print(
        f"conv2d forward+backward, N={N}, C={C}->{C}, {S}x{S}, 3x3, padding 1, "
        f"{args.dtype}, {threads} thread(s) for both, {args.repeats} repeats (median)"
    )
    print(f"max relative difference: out {rel:.1e}, dx {rel_dx:.1e}")
    print(f"{'implementation':<32}{'median ms':>10}{'min ms':>10}")
    rows = [
        ("numpy im2col (dlnotes)", np_med, min(np_times)),
        ("torch.nn.functional.conv2d", th_med, min(th_times)),
    ]
    for name, med, best in rows:
        print(f"{name:<32}{med * 1e3:>10.1f}{best * 1e3:>10.1f}")
    print(f"ratio numpy / torch: {np_med / th_med:.2f}x (target <= 2x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
