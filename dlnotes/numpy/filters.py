"""Hand-made convolution kernels applied to a real photograph.

Before CNNs learned their filters, image processing designed them by hand:
Sobel and Prewitt kernels respond to intensity *changes* (edges) in one
direction, the Laplacian to changes in every direction, blur kernels average.
A CNN's first layer learns kernels that look much like these. The photographs
are the two that ship with scikit-learn (``sklearn.datasets.load_sample_images``:
``china.jpg``, ``flower.jpg``, 427x640 RGB), so nothing is downloaded.

Like every deep-learning library, :func:`apply_kernel` computes a
cross-correlation (the kernel is not flipped), so ``SOBEL_X`` is positive where
the image gets brighter from left to right.
"""

from __future__ import annotations

import numpy as np

from dlnotes.numpy.arithmetic import same_padding
from dlnotes.numpy.conv import conv2d_forward_im2col
from dlnotes.numpy.types import FloatArray

# --8<-- [start:kernels]
SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=float)  # d/dx
SOBEL_Y = SOBEL_X.T.copy()  # d/dy: positive where it gets brighter downwards
PREWITT_X = np.array([[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]], dtype=float)
PREWITT_Y = PREWITT_X.T.copy()
LAPLACIAN = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=float)  # sum 0
SHARPEN = np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=float)  # sum 1
BOX_BLUR = np.full((3, 3), 1.0 / 9.0)  # mean of the 3x3 neighbourhood


def gaussian_kernel(size: int = 5, sigma: float = 1.0) -> FloatArray:
    """A ``size`` x ``size`` Gaussian blur kernel that sums to 1 (size odd)."""
    if size < 1 or size % 2 == 0:
        raise ValueError(f"size must be a positive odd int, got {size}")
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    r = np.arange(size) - size // 2
    g = np.exp(-(r**2) / (2.0 * sigma**2))
    k = np.outer(g, g)
    return k / k.sum()


KERNELS: dict[str, FloatArray] = {
    "sobel_x": SOBEL_X,
    "sobel_y": SOBEL_Y,
    "prewitt_x": PREWITT_X,
    "prewitt_y": PREWITT_Y,
    "laplacian": LAPLACIAN,
    "sharpen": SHARPEN,
    "box_blur": BOX_BLUR,
    "gaussian": gaussian_kernel(5, 1.0),
}
"""The hand-made kernels by name."""
# --8<-- [end:kernels]


# --8<-- [start:photo]
def to_grayscale(rgb: FloatArray) -> FloatArray:
    """(H, W, 3) RGB -> (H, W) luma ``0.299 R + 0.587 G + 0.114 B`` (ITU-R BT.601)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb must have shape (H, W, 3), got {rgb.shape}")
    return rgb @ np.array([0.299, 0.587, 0.114])


def load_photo(name: str = "china.jpg", *, gray: bool = True) -> FloatArray:
    """A photograph shipped with scikit-learn, as floats in [0, 1].

    ``name`` is ``"china.jpg"`` or ``"flower.jpg"``; returns (427, 640) when
    ``gray`` else (427, 640, 3).
    """
    from sklearn.datasets import load_sample_image

    if name not in ("china.jpg", "flower.jpg"):
        raise ValueError(f"name must be 'china.jpg' or 'flower.jpg', got {name!r}")
    rgb = load_sample_image(name).astype(float) / 255.0
    return to_grayscale(rgb) if gray else rgb


# --8<-- [end:photo]


# --8<-- [start:apply-kernel]
def apply_kernel(image: FloatArray, kernel: FloatArray) -> FloatArray:
    """Slide ``kernel`` over a grayscale ``image`` with same padding.

    (H, W) image and (k, k) kernel (k odd) -> (H, W) feature map, computed by
    :func:`dlnotes.numpy.conv.conv2d_forward_im2col` as a 1-in, 1-out
    convolution (a CNN layer with one filter).
    """
    if image.ndim != 2:
        raise ValueError(f"image must be 2-D (H, W), got shape {image.shape}")
    if kernel.ndim != 2:
        raise ValueError(f"kernel must be 2-D (k, k), got shape {kernel.shape}")
    pad = (same_padding(kernel.shape[0]), same_padding(kernel.shape[1]))
    out = conv2d_forward_im2col(image[None, None], kernel[None, None], padding=pad)
    return out[0, 0]


def edge_magnitude(image: FloatArray) -> FloatArray:
    """Gradient magnitude ``sqrt(Gx^2 + Gy^2)`` from the two Sobel responses."""
    gx = apply_kernel(image, SOBEL_X)
    gy = apply_kernel(image, SOBEL_Y)
    return np.hypot(gx, gy)


# --8<-- [end:apply-kernel]


# --8<-- [start:multichannel]
def multichannel_feature_map(
    rgb: FloatArray, weight: FloatArray, bias: float = 0.0
) -> tuple[FloatArray, FloatArray]:
    """One 3-channel filter on an RGB image, split into its per-channel parts.

    rgb (H, W, 3) and weight (3, k, k) (one k x k slice per colour channel) ->
    ``(partials, feature_map)``: partials (3, H, W) is each channel correlated
    with its own slice; the feature map (H, W) is their *sum* plus the bias,
    exactly what :func:`conv2d_forward_im2col` computes for a (1, 3, k, k)
    filter. The channels are added, not passed through an activation; the
    activation (e.g. ReLU) is applied to the summed map afterwards.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb must have shape (H, W, 3), got {rgb.shape}")
    if weight.ndim != 3 or weight.shape[0] != 3:
        raise ValueError(f"weight must have shape (3, k, k), got {weight.shape}")
    partials = np.stack([apply_kernel(rgb[:, :, c], weight[c]) for c in range(3)])
    pad = same_padding(weight.shape[1])
    x = rgb.transpose(2, 0, 1)[None]  # (1, 3, H, W)
    feature_map = conv2d_forward_im2col(x, weight[None], np.array([bias]), padding=pad)[
        0, 0
    ]
    return partials, feature_map


# --8<-- [end:multichannel]
