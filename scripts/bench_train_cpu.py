"""Benchmark: one epoch of CIFAR ResNet-20 with ``dlnotes train`` vs a bare loop.

Both sides train the same registry model (``cifar_resnet20``) with the same SGD
settings on the same synthetic ``3 x 32 x 32`` images in batches of the same
size, in this process, with the same number of threads. The bare side is the
smallest correct hand-written loop (pre-normalised float tensors, ``randperm``,
forward, cross-entropy, backward, step). The ``dlnotes`` side is
:func:`dlnotes.train.train`: uint8 data normalised per batch, progress bar,
NaN watch, per-epoch metrics files and an atomic checkpoint at the end.

Runs are interleaved (bare, dlnotes, bare, ...) so that a busy machine slows both
alike; medians are compared. Two ratios are printed:

* loop: images/s of the training steps (the engine's own epoch timer vs the bare
  loop's timer) - the overhead per step;
* end to end: the whole ``train()`` call (data, model, epoch, checkpoint, metrics,
  model export) vs the bare script's data + model + epoch.

    python scripts/bench_train_cpu.py                    # 512 images, batch 64
    python scripts/bench_train_cpu.py --images 1024 --repeats 5 --threads 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="One CIFAR ResNet-20 epoch: `dlnotes train` vs a bare "
        "hand-written loop (same model, data, batch, threads; interleaved).",
    )
    parser.add_argument("--images", type=int, default=512, help="training images")
    parser.add_argument("--batch-size", type=int, default=64, help="batch size")
    parser.add_argument("--repeats", type=int, default=4, help="timed epochs each")
    parser.add_argument(
        "--threads",
        type=int,
        default=os.cpu_count() or 1,
        help="torch threads (default: all cores)",
    )
    parser.add_argument("--model", default="cifar_resnet20", help="registry name")
    args = parser.parse_args(argv)
    for name in ("images", "batch_size", "repeats", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.batch_size > args.images:
        parser.error("--batch-size must be <= --images")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch
    import torch.nn.functional as F

    from dlnotes.models import create_model
    from dlnotes.train import TrainConfig, train
    from dlnotes.train.data import normalize
    from dlnotes.train.datasets import make_synthetic

    torch.set_num_threads(args.threads)
    config = TrainConfig(
        model=args.model,
        dataset="synthetic",
        image_size=32,
        in_channels=3,
        synthetic_train=args.images,
        synthetic_test=args.batch_size,
        batch_size=args.batch_size,
        epochs=1,
        eval_every_epochs=0,
        plot=False,
        progress=True,
    )
    steps = args.images // args.batch_size
    images = steps * args.batch_size

    def bare() -> tuple[float, float]:
        """(seconds of the loop, seconds of data + model + loop)."""
        t_start = time.perf_counter()
        torch.manual_seed(0)
        bundle = make_synthetic(
            (3, 32, 32), num_train=args.images, num_test=args.batch_size, seed=0
        )
        mean = torch.tensor(bundle.preprocessing.mean)
        std = torch.tensor(bundle.preprocessing.std)
        x_all = normalize(bundle.train.images, mean, std)  # (N, 3, 32, 32) float32
        y_all = bundle.train.labels
        net = create_model(args.model, num_classes=10)
        opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
        net.train()
        t0 = time.perf_counter()
        order = torch.randperm(len(y_all))
        for k in range(steps):
            idx = order[k * args.batch_size : (k + 1) * args.batch_size]
            loss = F.cross_entropy(net(x_all[idx]), y_all[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        t1 = time.perf_counter()
        return t1 - t0, t1 - t_start

    def engine() -> tuple[float, float]:
        with tempfile.TemporaryDirectory() as out:
            t_start = time.perf_counter()
            result = train(TrainConfig(**{**config.to_dict(), "out_dir": out}))
            total = time.perf_counter() - t_start
        assert result.step == steps
        return result.train_time_s, total

    print(
        f"{args.model}, {images} synthetic 3x32x32 images per epoch, batch "
        f"{args.batch_size}, {steps} steps, torch {torch.__version__}, "
        f"{args.threads} thread(s)",
        flush=True,
    )
    bare()  # warm-up: allocator, oneDNN primitives, imports
    engine()
    loops: dict[str, list[float]] = {"bare": [], "dlnotes": []}
    totals: dict[str, list[float]] = {"bare": [], "dlnotes": []}
    sides = (("bare", bare), ("dlnotes", engine))
    for r in range(args.repeats):  # ABBA order: a drifting load hits both sides
        for name, fn in sides if r % 2 == 0 else sides[::-1]:
            loop, total = fn()
            loops[name].append(loop)
            totals[name].append(total)
    rate = {k: images / statistics.median(v) for k, v in loops.items()}
    whole = {k: statistics.median(v) for k, v in totals.items()}
    paired = statistics.median(
        b / d for b, d in zip(loops["bare"], loops["dlnotes"], strict=True)
    )
    print(
        f"{'':12}{'loop img/s':>12}{'end-to-end s':>14}   (medians of {args.repeats})"
    )
    for name in ("bare", "dlnotes"):
        print(f"{name:12}{rate[name]:12.1f}{whole[name]:14.2f}")
    loop_ratio = rate["dlnotes"] / rate["bare"]
    e2e_ratio = whole["bare"] / whole["dlnotes"]
    print(f"ratio dlnotes/bare, loop throughput: {loop_ratio:.3f} (target >= 0.95)")
    print(f"  median of the {args.repeats} paired ratios:  {paired:.3f}")
    print(f"ratio dlnotes/bare, end to end:      {e2e_ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
