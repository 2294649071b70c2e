"""Benchmark: ResNet-50 training on one NVIDIA GPU - dlnotes vs torchvision vs bare.

Setting (issue 6): batch 256, 224x224, bf16 autocast, ``channels_last``, SGD with
momentum 0.9 and weight decay 1e-4, synthetic data already on the GPU.

(a) **model step**: one training step of the registry's ``resnet50`` (v1.5, the
    torchvision layout) vs the same step of ``torchvision.models.resnet50`` when
    torchvision is importable - eager and ``torch.compile`` - target ratio >= 0.98.
(b) **whole loop**: :func:`dlnotes.train.train` (data on the GPU, uint8 ->
    normalised per batch, progress bar, metrics files every epoch, a checkpoint
    every ``--checkpoint-every-epochs`` epochs) vs the bare dlnotes step of (a),
    eager - target >= 0.95. Setup (data generation, model build, cuDNN autotune)
    cancels out: two runs of ``--loop-epochs`` and 2 epochs are timed and the
    difference is the steady-state time of ``--loop-epochs - 2`` epochs.
(c) **memory**: peak GPU memory of one training step, dlnotes vs torchvision -
    target within 5 %.

Timed rounds of (a) alternate between the two models so that clock and thermal
drift hit both alike. Prints img/s and the ratios, and the GPU and versions.
Without CUDA it prints "CUDA not available: skipped" and exits 0;
``--smoke`` runs every part on the CPU with tiny sizes (to check the script).

    python scripts/bench_train_gpu.py                    # parts a, b, c
    python scripts/bench_train_gpu.py --parts a --no-compile
    python scripts/bench_train_gpu.py --parts b,c
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="ResNet-50 training steps on a GPU (bf16, channels_last, "
        "batch 256, 224x224): dlnotes vs torchvision, the dlnotes train loop vs "
        "the bare step, and peak memory.",
    )
    parser.add_argument("--parts", default="a,b,c", help="any of a,b,c (default all)")
    parser.add_argument("--batch-size", type=int, default=256, help="default 256")
    parser.add_argument("--image-size", type=int, default=224, help="default 224")
    parser.add_argument("--amp", choices=["bf16", "fp16", "none"], default="bf16")
    parser.add_argument(
        "--channels-last",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="NHWC memory format (default on)",
    )
    parser.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time torch.compile'd steps in (a) (default on)",
    )
    parser.add_argument("--warmup", type=int, default=15, help="untimed steps")
    parser.add_argument("--steps", type=int, default=20, help="steps per timed round")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds each")
    parser.add_argument(
        "--loop-images", type=int, default=2560, help="(b) images per epoch"
    )
    parser.add_argument(
        "--loop-epochs", type=int, default=12, help="(b) epochs of the long run"
    )
    parser.add_argument(
        "--checkpoint-every-epochs", type=int, default=10, help="(b) checkpoints"
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="run every part on the CPU with tiny sizes and no autocast "
        "(checks the script only; the figures mean nothing)",
    )
    args = parser.parse_args(argv)
    args.parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    if not args.parts or args.parts - {"a", "b", "c"}:
        parser.error("--parts takes a comma-separated subset of a,b,c")
    if args.smoke:
        args.batch_size, args.image_size, args.warmup, args.steps = 2, 32, 1, 2
        args.rounds, args.loop_images, args.loop_epochs = 2, 4, 3
        args.checkpoint_every_epochs, args.compile, args.amp = 2, False, "none"
    if args.loop_epochs < 3:
        parser.error("--loop-epochs must be >= 3 (it is compared with 2 epochs)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    if not args.smoke and not torch.cuda.is_available():
        print("CUDA not available: skipped (run this on a machine with an NVIDIA GPU)")
        return 0
    import torch.nn.functional as F
    from torch import nn

    from dlnotes.models import create_model
    from dlnotes.train import TrainConfig, train

    try:
        import torchvision  # type: ignore[import-untyped]
    except ImportError:
        torchvision = None

    device = torch.device("cpu" if args.smoke else "cuda")
    cuda = device.type == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(args.amp)
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    n, s = args.batch_size, args.image_size

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    print(f"torch {torch.__version__}", end="")
    if cuda:
        props = torch.cuda.get_device_properties(device)
        print(
            f", CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}, "
            f"GPU {props.name} ({props.total_memory / 2**30:.0f} GiB)",
            end="",
        )
    tv = f"torchvision {torchvision.__version__}" if torchvision else "no torchvision"
    print(f", {tv}")
    print(
        f"ResNet-50 v1.5, batch {n}, {s}x{s}, amp {args.amp}, "
        f"channels_last {args.channels_last}, SGD momentum 0.9, device {device}"
    )

    x = torch.randn(n, 3, s, s, device=device).contiguous(memory_format=fmt)
    y = torch.randint(0, 1000, (n,), device=device)

    def build(kind: str) -> nn.Module:
        torch.manual_seed(0)
        if kind == "dlnotes":
            model = create_model("resnet50")
        else:
            model = torchvision.models.resnet50(weights=None)
        return model.to(device).to(memory_format=fmt)  # type: ignore[call-overload]

    def make_step(model: nn.Module, compiled: bool) -> Callable[[], None]:
        net: Any = torch.compile(model) if compiled else model
        opt = torch.optim.SGD(
            model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4
        )
        scaler = torch.amp.GradScaler(device.type, enabled=args.amp == "fp16")

        def step() -> None:
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                loss = F.cross_entropy(net(x), y)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()

        return step

    kinds = ["dlnotes"] + (["torchvision"] if torchvision else [])
    bare_rate: dict[tuple[str, bool], float] = {}

    # -- (c) memory, each model alone --------------------------------------------
    if "c" in args.parts:
        print("\n(c) peak memory of one training step")
        peaks: dict[str, float] = {}
        for kind in kinds:
            gc.collect()
            if cuda:
                torch.cuda.empty_cache()
            base = torch.cuda.memory_allocated() if cuda else 0
            step = make_step(build(kind), compiled=False)
            for _ in range(3):  # gradients and momentum buffers exist now
                step()
            sync()
            if cuda:
                torch.cuda.reset_peak_memory_stats()
            step()
            sync()
            peaks[kind] = (torch.cuda.max_memory_allocated() - base) if cuda else 0.0
            print(f"  {kind:12} {peaks[kind] / 2**30:8.2f} GiB")
            del step
        if "torchvision" in peaks and peaks["torchvision"] > 0:
            ratio = peaks["dlnotes"] / peaks["torchvision"]
            print(f"  ratio dlnotes/torchvision: {ratio:.3f} (target <= 1.05)")
        elif not cuda:
            print("  (no GPU: memory is not measured on the CPU)")

    # -- (a) model step, eager and compiled --------------------------------------
    if "a" in args.parts or "b" in args.parts:
        modes = [False, True] if (args.compile and "a" in args.parts) else [False]
        print("\n(a) bare training step, img/s (median of interleaved rounds)")
        for compiled in modes:
            steps = {k: make_step(build(k), compiled) for k in kinds}
            for step in steps.values():  # warm-up: cuDNN autotune, compilation
                for _ in range(args.warmup):
                    step()
            sync()
            times: dict[str, list[float]] = {k: [] for k in kinds}
            for r in range(args.rounds):
                order = kinds if r % 2 == 0 else kinds[::-1]
                for kind in order:
                    sync()
                    t0 = time.perf_counter()
                    for _ in range(args.steps):
                        steps[kind]()
                    sync()
                    times[kind].append(time.perf_counter() - t0)
            label = "compiled" if compiled else "eager"
            for kind in kinds:
                rate = n * args.steps / statistics.median(times[kind])
                bare_rate[kind, compiled] = rate
                print(f"  {label:9} {kind:12} {rate:9.1f} img/s")
            if torchvision:
                ratio = (
                    bare_rate["dlnotes", compiled] / bare_rate["torchvision", compiled]
                )
                print(
                    f"  {label:9} ratio dlnotes/torchvision: {ratio:.3f} "
                    "(target >= 0.98)"
                )
            del steps
            gc.collect()

    # -- (b) the whole train loop vs the bare step --------------------------------
    if "b" in args.parts:
        per_epoch = args.loop_images // n
        print(
            f"\n(b) dlnotes train loop: {per_epoch} steps/epoch, synthetic uint8 data "
            f"on the {device.type}, checkpoint every {args.checkpoint_every_epochs} "
            "epochs, metrics every epoch, progress bar"
        )

        def run(epochs: int) -> float:
            with tempfile.TemporaryDirectory() as out:
                config = TrainConfig(
                    model="resnet50",
                    dataset="synthetic",
                    image_size=s,
                    num_classes=1000,
                    synthetic_train=args.loop_images,
                    synthetic_test=n,
                    batch_size=n,
                    epochs=epochs,
                    schedule="constant",
                    amp=args.amp,
                    channels_last=args.channels_last,
                    device=device.type,
                    eval_every_epochs=0,
                    checkpoint_every_epochs=args.checkpoint_every_epochs,
                    plot=False,
                    out_dir=out,
                )
                sync()
                t0 = time.perf_counter()
                train(config)
                sync()
                return time.perf_counter() - t0

        short, long = run(2), run(args.loop_epochs)
        extra = args.loop_epochs - 2
        rate = extra * per_epoch * n / (long - short)
        print(
            f"  train() {args.loop_epochs} epochs {long:.1f} s, 2 epochs {short:.1f} s"
        )
        print(f"  loop (steady state)   {rate:9.1f} img/s")
        print(f"  bare dlnotes step     {bare_rate['dlnotes', False]:9.1f} img/s")
        ratio = rate / bare_rate["dlnotes", False]
        print(f"  ratio loop/bare step: {ratio:.3f} (target >= 0.95)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
