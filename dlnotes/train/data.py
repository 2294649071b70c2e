"""The data side of :mod:`dlnotes.train`: containers, normalisation, augmentation.

Every dataset (:mod:`dlnotes.train.datasets`: digits, synthetic, CIFAR-10/100,
image folders) yields raw images - ``uint8`` in ``0..255`` or ``float32`` in
``[0, 1]``, shape ``(N, C, H, W)`` - and integer labels, held in a
:class:`DataBundle`. Normalisation happens on the batch, on the training device,
with the per-channel mean/std of the training set; those numbers become the
run's :class:`~dlnotes.transfer.Preprocessing`, saved in every checkpoint so the
model is later fed inputs prepared the same way.

Nothing is downloaded. A missing dataset raises :class:`DatasetNotFoundError`
with one message saying exactly where to put it (:func:`download_instructions`).

Data augmentation of the ResNet paper (arXiv:1512.03385, section 4.2): "4 pixels
are padded on each side, and a 32x32 crop is randomly sampled from the padded
image or its horizontal flip" - :func:`random_crop_flip`, on tensors, seeded.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from dlnotes.transfer import Preprocessing

__all__ = [
    "CIFAR_ARCHIVES",
    "IMAGE_EXTENSIONS",
    "DataBundle",
    "DatasetNotFoundError",
    "ImageFolderDataset",
    "TensorImageDataset",
    "batch_generator",
    "channel_mean_std",
    "download_instructions",
    "normalize",
    "random_crop_flip",
    "steps_per_epoch",
]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")

# name -> (folder inside data_dir, archive file name, URL of the official archive)
CIFAR_ARCHIVES: dict[str, tuple[str, str, str]] = {
    "cifar10": (
        "cifar-10-batches-py",
        "cifar-10-python.tar.gz",
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    ),
    "cifar100": (
        "cifar-100-python",
        "cifar-100-python.tar.gz",
        "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
    ),
}


class DatasetNotFoundError(FileNotFoundError):
    """A dataset is not where it should be; the message says where to put it."""


# ---------------------------------------------------------------------------
# Containers
# ---------------------------------------------------------------------------


@dataclass
class TensorImageDataset:
    """A dataset held in memory as two tensors (fast: a batch is one indexing op).

    Attributes:
        images: ``(N, C, H, W)``, ``uint8`` 0..255 or ``float32`` in ``[0, 1]``.
        labels: ``(N,)`` ``int64`` class indices.
        classes: class names, ``len(classes)`` = number of classes.
    """

    images: Tensor
    labels: Tensor
    classes: list[str]

    def __post_init__(self) -> None:
        if self.images.dim() != 4:
            raise ValueError(f"images must be (N, C, H, W), got {self.images.shape}")
        if self.labels.shape != (self.images.shape[0],):
            raise ValueError(
                f"labels must be ({self.images.shape[0]},), got {self.labels.shape}"
            )

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def get_batch(self, index: Tensor) -> tuple[Tensor, Tensor]:
        """Images and labels at ``index`` (a 1-D int64 tensor on any device)."""
        index = index.to(self.images.device, non_blocking=True)
        return self.images[index], self.labels[index]

    def to(self, device: torch.device | str) -> TensorImageDataset:
        """A copy on ``device`` (the GPU holds CIFAR-10 as 150 MB of uint8)."""
        return TensorImageDataset(
            self.images.to(device), self.labels.to(device), self.classes
        )


class ImageFolderDataset(torch.utils.data.Dataset[tuple[Tensor, int]]):
    """Images read lazily from files, resized to ``image_size`` (a map dataset).

    ``samples`` is a list of ``(path, class_index)``. Each item is a ``uint8``
    tensor ``(C, image_size, image_size)``: the shorter side resized to
    ``image_size`` (bilinear), then the centre square cropped; ``in_channels`` 1
    converts to grey ("L"), 3 to "RGB". Read with Pillow, batched by a
    ``DataLoader`` (``num_workers`` decode in parallel).
    """

    def __init__(
        self,
        samples: Sequence[tuple[Path, int]],
        classes: list[str],
        image_size: int,
        in_channels: int = 3,
    ) -> None:
        if in_channels not in (1, 3):
            raise ValueError(f"in_channels must be 1 or 3, got {in_channels}")
        self.samples = list(samples)
        self.classes = classes
        self.image_size = image_size
        self.in_channels = in_channels
        self.labels = torch.tensor([c for _, c in self.samples], dtype=torch.int64)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        from PIL import Image

        path, label = self.samples[i]
        s = self.image_size
        with Image.open(path) as f:
            img = f.convert("RGB" if self.in_channels == 3 else "L")
        w, h = img.size  # shorter side -> s, then the centre s x s
        size = (max(s, round(w * s / min(w, h))), max(s, round(h * s / min(w, h))))
        img = img.resize(size, Image.Resampling.BILINEAR)
        left, top = (size[0] - s) // 2, (size[1] - s) // 2
        img = img.crop((left, top, left + s, top + s))
        arr = np.asarray(img, dtype=np.uint8)
        if arr.ndim == 2:
            arr = arr[:, :, None]
        return torch.from_numpy(arr.copy()).permute(2, 0, 1), label  # (C, S, S)


@dataclass
class DataBundle:
    """Train and test sets of one dataset, and how to normalise them.

    Attributes:
        name: dataset name (one of :data:`DATASETS`).
        train, test: :class:`TensorImageDataset` or :class:`ImageFolderDataset`.
        num_classes: number of classes.
        input_shape: ``(C, H, W)`` of one image.
        preprocessing: per-channel mean/std of the training images (0..1 scale).
        source: where the data came from (a path or a description).
    """

    name: str
    train: TensorImageDataset | ImageFolderDataset
    test: TensorImageDataset | ImageFolderDataset
    num_classes: int
    input_shape: tuple[int, int, int]
    preprocessing: Preprocessing
    source: str = ""
    classes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------
# Normalisation and augmentation
# ---------------------------------------------------------------------------


def channel_mean_std(images: Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and standard deviation of ``(N, C, H, W)`` images, on the
    ``[0, 1]`` scale (``uint8`` is divided by 255). Computed in float64."""
    x = images.to(torch.float64)
    if not images.is_floating_point():
        x = x / 255
    mean = x.mean(dim=(0, 2, 3))
    std = x.std(dim=(0, 2, 3)).clamp_min(1e-6)
    return tuple(mean.tolist()), tuple(std.tolist())


# --8<-- [start:normalize]
def normalize(x: Tensor, mean: Tensor, std: Tensor) -> Tensor:
    """``(N, C, H, W)`` raw images -> float32 ``(x / 255 - mean) / std``.

    ``mean``/``std`` are ``(C,)`` tensors on ``x``'s device; ``uint8`` inputs are
    scaled to ``[0, 1]`` first, float inputs are taken to be in ``[0, 1]``.
    """
    x = x.float() / 255 if not x.is_floating_point() else x.float()
    return (x - mean[:, None, None]) / std[:, None, None]


# --8<-- [end:normalize]


# --8<-- [start:crop-flip]
def random_crop_flip(
    x: Tensor, *, padding: int = 4, generator: torch.Generator | None = None
) -> Tensor:
    """The ResNet paper's CIFAR augmentation (arXiv:1512.03385, section 4.2).

    Each image of ``x`` ``(N, C, H, W)`` is zero-padded by ``padding`` pixels on
    each side, a random ``H x W`` window is cut out, and it is mirrored left-right
    with probability 1/2. The random numbers come from ``generator`` (on the CPU),
    so a seeded generator gives the same batch every time.
    """
    n, _, h, w = x.shape
    offsets = torch.randint(0, 2 * padding + 1, (n, 2), generator=generator)
    flips = torch.rand(n, generator=generator) < 0.5
    offsets, flips = offsets.to(x.device), flips.to(x.device)
    padded = F.pad(x, (padding, padding, padding, padding))  # (N, C, H+2p, W+2p)
    rows = offsets[:, 0, None] + torch.arange(h, device=x.device)  # (N, H)
    cols = offsets[:, 1, None] + torch.arange(w, device=x.device)  # (N, W)
    cols = torch.where(flips[:, None], cols.flip(1), cols)  # mirrored windows
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    chans = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    return padded[batch, chans, rows[:, None, :, None], cols[:, None, None, :]]


# --8<-- [end:crop-flip]


def batch_generator(seed: int, *keys: int) -> torch.Generator:
    """A CPU generator seeded from ``(seed, *keys)`` (e.g. epoch and batch index):
    the augmentation of a batch depends on where it is in the run, not on what
    ran before it, so a resumed run augments exactly like an uninterrupted one."""
    state = np.random.SeedSequence([seed, *keys]).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


def download_instructions(name: str, data_dir: str | Path) -> str:
    """One message: where to get dataset ``name`` and where to put it."""
    data_dir = Path(data_dir)
    if name in CIFAR_ARCHIVES:
        folder, archive, url = CIFAR_ARCHIVES[name]
        return (
            f"{name} not found: expected the folder {data_dir / folder} "
            f"(the python version of the dataset). Download {url} and put "
            f"{archive} into {data_dir} (it is unpacked on first use), or unpack it "
            f"there yourself: tar -xzf {archive} -C {data_dir}"
        )
    if name == "imagefolder":
        return (
            f"image folder not found: expected {data_dir}/<class>/<image>.png|jpg "
            f"(or {data_dir}/train/<class>/... and {data_dir}/val/<class>/...)"
        )
    return f"{name} ships with the package or is generated: nothing to download"


def steps_per_epoch(num_samples: int, batch_size: int) -> int:
    """Full batches per epoch (the last, incomplete batch is dropped)."""
    return math.floor(num_samples / batch_size)
