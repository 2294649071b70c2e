"""Where the images come from: scikit-learn digits, synthetic images, CIFAR-10/100
archives, image folders, and :func:`load_dataset`, the one entry point.

Each loader returns a :class:`~dlnotes.train.data.DataBundle` of raw images
(see :mod:`dlnotes.train.data`). Nothing is downloaded: CIFAR archives and image
folders are read from a local folder the user fills.
"""

from __future__ import annotations

import pickle
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from dlnotes.numpy.digits import split_digits, stratified_split
from dlnotes.train.config import DATASETS
from dlnotes.train.data import (
    CIFAR_ARCHIVES,
    IMAGE_EXTENSIONS,
    DataBundle,
    DatasetNotFoundError,
    ImageFolderDataset,
    TensorImageDataset,
    channel_mean_std,
    download_instructions,
)
from dlnotes.transfer import Preprocessing

__all__ = [
    "DATASETS",
    "load_cifar",
    "load_dataset",
    "load_digits_data",
    "load_image_folder",
    "make_synthetic",
]


# ---------------------------------------------------------------------------
# scikit-learn digits
# ---------------------------------------------------------------------------


def load_digits_data(
    *,
    image_size: int = 32,
    in_channels: int = 3,
    mode: str = "upsample",
    test_fraction: float = 0.2,
    seed: int = 0,
) -> DataBundle:
    """scikit-learn's 1,797 handwritten digits (8x8, values 0..16), as images.

    ``mode="upsample"`` resizes 8x8 to ``image_size`` (bilinear), ``"pad"``
    centres the 8x8 digit on a zero canvas of ``image_size``. Grey values are
    scaled to ``[0, 1]`` and repeated to ``in_channels`` (1 or 3) channels. The
    train/test split is stratified and seeded by ``seed``.
    """
    if mode not in ("upsample", "pad"):
        raise ValueError(f"mode must be 'upsample' or 'pad', got {mode!r}")
    if image_size < 8:
        raise ValueError(f"image_size must be >= 8 for digits, got {image_size}")
    if in_channels not in (1, 3):
        raise ValueError(f"in_channels must be 1 or 3, got {in_channels}")
    digits = split_digits(test_fraction=test_fraction, seed=seed)
    x = torch.from_numpy(digits.images.astype(np.float32))[:, None]  # (N, 1, 8, 8)
    if image_size != 8 and mode == "upsample":
        x = F.interpolate(x, size=(image_size, image_size), mode="bilinear")
        x = x.clamp(0, 1)
    elif image_size != 8:
        before = (image_size - 8) // 2
        after = image_size - 8 - before
        x = F.pad(x, (before, after, before, after))
    x = x.expand(-1, in_channels, -1, -1).contiguous()
    y = torch.from_numpy(digits.labels.astype(np.int64))
    tr_t, te_t = torch.from_numpy(digits.train), torch.from_numpy(digits.test)
    classes = [str(i) for i in range(10)]
    train = TensorImageDataset(x[tr_t], y[tr_t], classes)
    mean, std = channel_mean_std(train.images)
    return DataBundle(
        "digits",
        train,
        TensorImageDataset(x[te_t], y[te_t], classes),
        10,
        (in_channels, image_size, image_size),
        Preprocessing((image_size, image_size), mean, std),
        source=f"sklearn.datasets.load_digits ({mode} to {image_size}x{image_size})",
        classes=classes,
    )


# ---------------------------------------------------------------------------
# Synthetic data
# ---------------------------------------------------------------------------


def make_synthetic(
    shape: Sequence[int] = (3, 32, 32),
    *,
    num_classes: int = 10,
    num_train: int = 1024,
    num_test: int = 256,
    noise: float = 0.25,
    seed: int = 0,
) -> DataBundle:
    """Learnable random images of any ``shape`` ``(C, H, W)``, ``uint8``.

    Each class has a smooth random prototype (noise on a coarse grid, upsampled);
    an image is its class prototype plus pixel noise of standard deviation
    ``noise`` (on the ``[0, 1]`` scale), so the label is predictable from the
    image but not trivially. Labels cycle through the classes; everything is
    seeded by ``seed``.
    """
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"shape must be (C, H, W) with positive sizes, got {shape}")
    if num_classes < 1 or num_train < 1 or num_test < 1:
        raise ValueError("num_classes, num_train and num_test must be >= 1")
    c, h, w = (int(s) for s in shape)
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(num_classes, c, max(1, h // 8), max(1, w // 8), generator=g)
    protos = F.interpolate(coarse, size=(h, w), mode="bilinear")  # (K, C, H, W)

    def draw(n: int) -> tuple[Tensor, Tensor]:
        y = torch.arange(n) % num_classes
        y = y[torch.randperm(n, generator=g)]
        images = torch.empty(n, c, h, w, dtype=torch.uint8)
        for start in range(0, n, 256):  # in chunks: 224x224 images are large
            yy = y[start : start + 256]
            x = protos[yy] + noise * torch.randn(len(yy), c, h, w, generator=g)
            images[start : start + 256] = (x.clamp(0, 1) * 255).round().to(torch.uint8)
        return images, y

    classes = [f"class{i}" for i in range(num_classes)]
    train = TensorImageDataset(*draw(num_train), classes)
    test = TensorImageDataset(*draw(num_test), classes)
    sample = max(1, 2**25 // (c * h * w))  # statistics from <= 32M pixel values
    mean, std = channel_mean_std(train.images[:sample])
    return DataBundle(
        "synthetic",
        train,
        test,
        num_classes,
        (c, h, w),
        Preprocessing((h, w), mean, std),
        source=f"synthetic {c}x{h}x{w}, {num_classes} classes, seed {seed}",
        classes=classes,
    )


# ---------------------------------------------------------------------------
# CIFAR-10 / CIFAR-100 (python pickle archives)
# ---------------------------------------------------------------------------

# What the official CIFAR pickles contain: dicts of bytes keys, lists and numpy
# arrays. Nothing else may be looked up while unpickling (no code can run).
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): (
        "numpy._core.multiarray",
        "_reconstruct",
    ),
    ("numpy._core.multiarray", "_reconstruct"): (
        "numpy._core.multiarray",
        "_reconstruct",
    ),
    ("numpy.core.numeric", "_frombuffer"): ("numpy._core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"): ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"): ("numpy", "ndarray"),
    ("numpy", "dtype"): ("numpy", "dtype"),
    ("_codecs", "encode"): ("_codecs", "encode"),
}


class _CifarUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        target = _ALLOWED_GLOBALS.get((module, name))
        if target is None:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: a CIFAR batch holds only "
                "arrays and lists"
            )
        return super().find_class(*target)


def _read_cifar_pickle(path: Path) -> dict[bytes, Any]:
    """Load one CIFAR batch file (a pickle written by Python 2).

    Unpickling can run code, so only files the user placed there themselves are
    read, and only with an allow-list of numpy array constructors.
    ``encoding="bytes"`` keeps Python 2 strings as ``bytes`` (keys like
    ``b"data"``), as the CIFAR page documents.
    """
    with open(path, "rb") as f:
        obj = _CifarUnpickler(f, encoding="bytes").load()
    if not isinstance(obj, dict):
        raise ValueError(f"{path} is not a CIFAR batch (expected a dict)")
    return obj


def _find_cifar_folder(name: str, data_dir: Path) -> Path:
    folder, archive, _ = CIFAR_ARCHIVES[name]
    marker = "batches.meta" if name == "cifar10" else "meta"
    for candidate in (data_dir / folder, data_dir):
        if (candidate / marker).is_file():
            return candidate
    if (data_dir / archive).is_file():  # the archive the user downloaded
        with tarfile.open(data_dir / archive, "r:gz") as tar:
            tar.extractall(data_dir, filter="data")
        if (data_dir / folder / marker).is_file():
            return data_dir / folder
    raise DatasetNotFoundError(download_instructions(name, data_dir))


def load_cifar(
    data_dir: str | Path, *, num_classes: int = 10
) -> tuple[TensorImageDataset, TensorImageDataset, Path]:
    """CIFAR-10 or CIFAR-100 from the official python archive layout.

    ``data_dir`` holds ``cifar-10-batches-py/`` (``data_batch_1`` ...
    ``data_batch_5``, ``test_batch``, ``batches.meta``) or ``cifar-100-python/``
    (``train``, ``test``, ``meta``), or the ``.tar.gz`` archive itself, or is that
    folder. Each batch is a pickle of ``{b"data": uint8 (N, 3072), b"labels" or
    b"fine_labels": [...]}``; rows are 1024 red, 1024 green, 1024 blue values of a
    32x32 image. Returns ``(train, test, folder)`` as ``uint8 (N, 3, 32, 32)``.

    Unpickling is done only for files the user placed in ``data_dir`` themselves,
    and with an allow-list (numpy arrays, lists, dicts): a batch file that tries to
    run code is refused.
    """
    if num_classes not in (10, 100):
        raise ValueError(f"num_classes must be 10 or 100, got {num_classes}")
    name = f"cifar{num_classes}"
    folder = _find_cifar_folder(name, Path(data_dir))
    if num_classes == 10:
        train_files = [folder / f"data_batch_{i}" for i in range(1, 6)]
        test_files, meta_file, key, names_key = (
            [folder / "test_batch"],
            folder / "batches.meta",
            b"labels",
            b"label_names",
        )
    else:
        train_files, test_files = [folder / "train"], [folder / "test"]
        meta_file, key, names_key = folder / "meta", b"fine_labels", b"fine_label_names"
    missing = [p.name for p in [*train_files, *test_files] if not p.is_file()]
    if missing:
        raise DatasetNotFoundError(
            f"{folder} is incomplete (missing {', '.join(missing)}); "
            + download_instructions(name, Path(data_dir))
        )
    meta = _read_cifar_pickle(meta_file)
    classes = [n.decode("utf-8") for n in meta[names_key]]

    def read(files: list[Path]) -> TensorImageDataset:
        xs, ys = [], []
        for p in files:
            batch = _read_cifar_pickle(p)
            xs.append(np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            ys.append(np.asarray(batch[key], dtype=np.int64))
        x = torch.from_numpy(np.concatenate(xs))
        return TensorImageDataset(x, torch.from_numpy(np.concatenate(ys)), classes)

    return read(train_files), read(test_files), folder


# ---------------------------------------------------------------------------
# Image folders
# ---------------------------------------------------------------------------


def _scan_classes(root: Path) -> tuple[list[str], list[tuple[Path, int]]]:
    classes = sorted(d.name for d in root.iterdir() if d.is_dir())
    samples = [
        (p, i)
        for i, c in enumerate(classes)
        for p in sorted((root / c).rglob("*"))
        if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
    ]
    return classes, samples


def load_image_folder(
    data_dir: str | Path,
    *,
    image_size: int = 224,
    in_channels: int = 3,
    test_fraction: float = 0.2,
    seed: int = 0,
    stats_samples: int = 256,
) -> DataBundle:
    """Images in class sub-folders (torchvision ``ImageFolder`` layout).

    Either ``data_dir/train/<class>/*`` and ``data_dir/val/<class>/*`` (or
    ``test/``), or ``data_dir/<class>/*`` split per class by ``test_fraction``
    (seeded). Files ending in one of :data:`IMAGE_EXTENSIONS` are read lazily
    with Pillow (:class:`ImageFolderDataset`). The normalisation statistics are
    computed on up to ``stats_samples`` training images chosen with ``seed``.
    """
    root = Path(data_dir)
    if not root.is_dir():
        raise DatasetNotFoundError(download_instructions("imagefolder", root))
    split_dirs = [root / s for s in ("val", "test") if (root / s).is_dir()]
    if (root / "train").is_dir() and split_dirs:
        classes, train_samples = _scan_classes(root / "train")
        test_classes, test_samples = _scan_classes(split_dirs[0])
        unknown = sorted(set(test_classes) - set(classes))
        if unknown:
            raise ValueError(
                f"{split_dirs[0]} has classes not in train/: {', '.join(unknown)}"
            )
        index = {c: i for i, c in enumerate(classes)}
        test_samples = [(p, index[test_classes[c]]) for p, c in test_samples]
    else:
        classes, samples = _scan_classes(root)
        labels = np.array([c for _, c in samples], dtype=np.int64)
        train_samples, test_samples = [], []
        if samples:
            tr, te = stratified_split(labels, test_fraction, seed)
            train_samples = [samples[int(i)] for i in tr]
            test_samples = [samples[int(i)] for i in te]
    if len(classes) < 2 or not train_samples:
        raise DatasetNotFoundError(
            f"{root} has {len(classes)} class folder(s) and {len(train_samples)} "
            "training images; " + download_instructions("imagefolder", root)
        )
    train = ImageFolderDataset(train_samples, classes, image_size, in_channels)
    test = ImageFolderDataset(test_samples, classes, image_size, in_channels)
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(train), size=min(stats_samples, len(train)), replace=False)
    mean, std = channel_mean_std(torch.stack([train[int(i)][0] for i in pick]))
    return DataBundle(
        "imagefolder",
        train,
        test,
        len(classes),
        (in_channels, image_size, image_size),
        Preprocessing((image_size, image_size), mean, std),
        source=str(root),
        classes=classes,
    )


# ---------------------------------------------------------------------------
# One entry point
# ---------------------------------------------------------------------------


def load_dataset(
    name: str,
    *,
    data_dir: str | Path = "data",
    image_size: int = 32,
    in_channels: int = 3,
    num_classes: int | None = None,
    digits_mode: str = "upsample",
    synthetic_train: int = 1024,
    synthetic_test: int = 256,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> DataBundle:
    """Load dataset ``name`` (one of :data:`DATASETS`) as a :class:`DataBundle`.

    ``image_size``/``in_channels`` shape digits, synthetic data and image folders
    (CIFAR is always ``3 x 32 x 32``); ``num_classes`` sets the synthetic classes
    (default 10). Raises ValueError for an unknown name, and
    :class:`DatasetNotFoundError` (one message saying where to put the files) when
    the files of CIFAR or an image folder are missing.
    """
    if name not in DATASETS:
        raise ValueError(f"dataset must be one of {', '.join(DATASETS)}; got {name!r}")
    if name == "digits":
        return load_digits_data(
            image_size=image_size,
            in_channels=in_channels,
            mode=digits_mode,
            test_fraction=test_fraction,
            seed=seed,
        )
    if name == "synthetic":
        return make_synthetic(
            (in_channels, image_size, image_size),
            num_classes=num_classes or 10,
            num_train=synthetic_train,
            num_test=synthetic_test,
            seed=seed,
        )
    if name == "imagefolder":
        return load_image_folder(
            data_dir,
            image_size=image_size,
            in_channels=in_channels,
            test_fraction=test_fraction,
            seed=seed,
        )
    k = 10 if name == "cifar10" else 100
    train, test, folder = load_cifar(data_dir, num_classes=k)
    mean, std = channel_mean_std(train.images)
    return DataBundle(
        name,
        train,
        test,
        k,
        (3, 32, 32),
        Preprocessing((32, 32), mean, std),
        source=str(folder),
        classes=train.classes,
    )
