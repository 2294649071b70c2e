"""Object-detection building blocks from scratch, in torchvision's conventions.

* Box formats ``xyxy`` (corners), ``xywh`` (corner + size), ``cxcywh`` (centre +
  size) and :func:`box_convert` between them; :func:`box_area`, :func:`box_iou`.
* :func:`encode_boxes` / :func:`decode_boxes`: the R-CNN box-regression targets
  (Girshick et al. 2014, arXiv:1311.2524) ``(dx, dy, dw, dh)`` of a box relative
  to an anchor or proposal, as Faster R-CNN and torchvision's ``BoxCoder`` use.
* :func:`nms`: greedy non-maximum suppression (``torchvision.ops.nms``).
* :func:`anchor_grid` (Faster R-CNN, Ren et al. 2015, arXiv:1506.01497) and
  :func:`ssd_default_boxes` (Liu et al. 2016, arXiv:1512.02325).
* :func:`roi_pool` (Fast R-CNN, Girshick 2015, arXiv:1504.08083) and
  :func:`roi_align` (Mask R-CNN, He et al. 2017, arXiv:1703.06870) with the
  semantics of ``torchvision.ops.roi_pool`` / ``roi_align``.

Boxes are float arrays ``(..., 4)`` in pixel coordinates, ``x`` to the right and
``y`` down; a box ``(x1, y1, x2, y2)`` has width ``x2 - x1`` (continuous
coordinates, as torchvision).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from dlnotes.numpy.types import FloatArray, IntArray

__all__ = [
    "anchor_grid",
    "bilinear",
    "box_area",
    "box_convert",
    "box_iou",
    "decode_boxes",
    "encode_boxes",
    "nms",
    "roi_align",
    "roi_pool",
    "ssd_default_boxes",
]

FORMATS = ("xyxy", "xywh", "cxcywh")


# --8<-- [start:boxes]
def box_convert(boxes: FloatArray, in_fmt: str, out_fmt: str) -> FloatArray:
    """Convert ``(..., 4)`` boxes between ``"xyxy"``, ``"xywh"`` and ``"cxcywh"``."""
    for name, fmt in (("in_fmt", in_fmt), ("out_fmt", out_fmt)):
        if fmt not in FORMATS:
            raise ValueError(f"{name} must be one of {FORMATS}, got {fmt!r}")
    b = np.asarray(boxes, dtype=np.float64)
    if b.shape[-1] != 4:
        raise ValueError(f"boxes must have shape (..., 4), got {b.shape}")
    a0, a1, a2, a3 = np.moveaxis(b, -1, 0)
    if in_fmt == "xywh":  # to corners first
        a2, a3 = a0 + a2, a1 + a3
    elif in_fmt == "cxcywh":
        a0, a1, a2, a3 = a0 - a2 / 2, a1 - a3 / 2, a0 + a2 / 2, a1 + a3 / 2
    if out_fmt == "xywh":
        a2, a3 = a2 - a0, a3 - a1
    elif out_fmt == "cxcywh":
        a0, a1, a2, a3 = (a0 + a2) / 2, (a1 + a3) / 2, a2 - a0, a3 - a1
    return np.stack([a0, a1, a2, a3], axis=-1)


def box_area(boxes: FloatArray) -> FloatArray:
    """Areas of ``(..., 4)`` xyxy boxes (0 for empty or inverted ones)."""
    w = np.clip(boxes[..., 2] - boxes[..., 0], 0, None)
    h = np.clip(boxes[..., 3] - boxes[..., 1], 0, None)
    return w * h


def box_iou(a: FloatArray, b: FloatArray) -> FloatArray:
    """Intersection over union of every pair: a (N, 4), b (M, 4) xyxy -> (N, M)."""
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])  # (N, M, 2)
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=-1)
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


# --8<-- [end:boxes]


# --8<-- [start:box-coder]
def encode_boxes(
    boxes: FloatArray,
    anchors: FloatArray,
    weights: Sequence[float] = (1.0, 1.0, 1.0, 1.0),
) -> FloatArray:
    """Regression targets of xyxy ``boxes`` relative to xyxy ``anchors`` (same shape):

    ``dx = wx (x - x_a) / w_a``, ``dy = wy (y - y_a) / h_a``,
    ``dw = ww log(w / w_a)``, ``dh = wh log(h / h_a)`` on centres and sizes.
    Shift- and scale-invariant: the same offset relative to a box of any size.
    """
    wx, wy, ww, wh = weights
    x, y, w, h = np.moveaxis(box_convert(boxes, "xyxy", "cxcywh"), -1, 0)
    xa, ya, wa, ha = np.moveaxis(box_convert(anchors, "xyxy", "cxcywh"), -1, 0)
    return np.stack(
        [
            wx * (x - xa) / wa,
            wy * (y - ya) / ha,
            ww * np.log(w / wa),
            wh * np.log(h / ha),
        ],
        axis=-1,
    )


def decode_boxes(
    deltas: FloatArray,
    anchors: FloatArray,
    weights: Sequence[float] = (1.0, 1.0, 1.0, 1.0),
    clip: float = math.log(1000.0 / 16),
) -> FloatArray:
    """Inverse of :func:`encode_boxes`: predicted offsets -> xyxy boxes.

    ``dw``, ``dh`` are clipped at ``clip`` (torchvision's default) so that
    ``exp`` cannot blow a box up during early training.
    """
    wx, wy, ww, wh = weights
    xa, ya, wa, ha = np.moveaxis(box_convert(anchors, "xyxy", "cxcywh"), -1, 0)
    dx, dy, dw, dh = np.moveaxis(np.asarray(deltas, dtype=np.float64), -1, 0)
    dw, dh = np.minimum(dw / ww, clip), np.minimum(dh / wh, clip)
    centre_size = [
        xa + dx / wx * wa,
        ya + dy / wy * ha,
        wa * np.exp(dw),
        ha * np.exp(dh),
    ]
    return box_convert(np.stack(centre_size, axis=-1), "cxcywh", "xyxy")


# --8<-- [end:box-coder]


# --8<-- [start:nms]
def nms(boxes: FloatArray, scores: FloatArray, iou_threshold: float) -> IntArray:
    """Greedy non-maximum suppression, like ``torchvision.ops.nms``.

    Repeatedly keep the highest-scoring remaining box and drop every remaining
    box whose IoU with it is above ``iou_threshold``. Returns the indices kept,
    by decreasing score.
    """
    if boxes.ndim != 2 or boxes.shape[1] != 4 or scores.shape != boxes.shape[:1]:
        raise ValueError(
            f"need boxes (N, 4) and scores (N,), got {boxes.shape}, {scores.shape}"
        )
    order = np.argsort(-scores, kind="stable")
    iou = box_iou(boxes, boxes)
    keep = []
    suppressed = np.zeros(len(boxes), dtype=bool)
    for i in order:
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= iou[i] > iou_threshold  # includes i itself (IoU 1)
    return np.array(keep, dtype=np.int64)


# --8<-- [end:nms]


# --8<-- [start:anchors]
def anchor_grid(
    feature_size: tuple[int, int],
    stride: int,
    sizes: Sequence[float] = (128.0, 256.0, 512.0),
    aspect_ratios: Sequence[float] = (0.5, 1.0, 2.0),
) -> FloatArray:
    """Faster R-CNN anchors: ``len(sizes) * len(aspect_ratios)`` boxes per cell.

    Each anchor has area ``size**2`` and ``height / width = ratio``, centred on
    the feature-map cell's position in the image (``stride`` pixels apart).
    Returns (H * W * A, 4) xyxy, cell by cell (row-major), anchors within a cell
    in the order ratios-major as torchvision's ``AnchorGenerator``.
    """
    H, W = feature_size
    ratios = np.asarray(aspect_ratios, dtype=np.float64)
    scales = np.asarray(sizes, dtype=np.float64)
    h_ratio = np.sqrt(ratios)
    ws = (scales[None, :] / h_ratio[:, None]).ravel()  # (A,)
    hs = (scales[None, :] * h_ratio[:, None]).ravel()
    base = np.round(np.stack([-ws, -hs, ws, hs], axis=1) / 2)  # (A, 4) round as tv
    ys, xs = np.meshgrid(np.arange(H) * stride, np.arange(W) * stride, indexing="ij")
    shifts = np.stack([xs, ys, xs, ys], axis=-1).reshape(-1, 1, 4)  # (H*W, 1, 4)
    return (shifts + base[None]).reshape(-1, 4)


def ssd_default_boxes(
    feature_sizes: Sequence[int],
    aspect_ratios: Sequence[Sequence[float]],
    s_min: float = 0.2,
    s_max: float = 0.9,
) -> FloatArray:
    """SSD default boxes in cxcywh, relative to the image (0..1).

    Feature map k of m has scale ``s_k = s_min + (s_max - s_min) k / (m - 1)``;
    each cell gets a box of ratio 1 at ``s_k``, one at ``sqrt(s_k s_{k+1})`` and
    for every extra ratio ``r`` in ``aspect_ratios[k]`` two boxes of widths
    ``s_k sqrt(r)`` and ``s_k / sqrt(r)``.
    """
    m = len(feature_sizes)
    if m < 2 or len(aspect_ratios) != m:
        raise ValueError("need >= 2 feature maps and one aspect-ratio list per map")
    scales = [s_min + (s_max - s_min) * k / (m - 1) for k in range(m)] + [1.0]
    out = []
    for k, f in enumerate(feature_sizes):
        shapes = [(scales[k], scales[k]), (math.sqrt(scales[k] * scales[k + 1]),) * 2]
        for r in aspect_ratios[k]:
            a = math.sqrt(r)
            shapes += [(scales[k] * a, scales[k] / a), (scales[k] / a, scales[k] * a)]
        for i in range(f):
            for j in range(f):
                cx, cy = (j + 0.5) / f, (i + 0.5) / f
                out += [(cx, cy, w, h) for w, h in shapes]
    return np.clip(np.array(out), 0.0, 1.0)


# --8<-- [end:anchors]


def _round(v: float) -> int:
    """Round half away from zero, like C's ``round`` (Python rounds half to even)."""
    return int(math.copysign(math.floor(abs(v) + 0.5), v))


def _check_rois(features: FloatArray, rois: FloatArray) -> None:
    if features.ndim != 4:
        raise ValueError(f"features must have shape (N, C, H, W), got {features.shape}")
    if rois.ndim != 2 or rois.shape[1] != 5:
        raise ValueError(
            f"rois must have shape (K, 5) as (batch_index, x1, y1, x2, y2), "
            f"got {rois.shape}"
        )


# --8<-- [start:roi-pool]
def roi_pool(
    features: FloatArray,
    rois: FloatArray,
    output_size: tuple[int, int],
    spatial_scale: float = 1.0,
) -> FloatArray:
    """RoI max pooling (Fast R-CNN) with ``torchvision.ops.roi_pool``'s rounding.

    features (N, C, H, W); rois (K, 5) rows ``(batch_index, x1, y1, x2, y2)`` in
    image pixels, multiplied by ``spatial_scale`` and rounded to feature cells.
    The RoI is cut into ``output_size`` bins by floor/ceil, each max-pooled.
    Returns (K, C, out_h, out_w); an empty bin gives 0.
    """
    _check_rois(features, rois)
    _, C, H, W = features.shape
    ph, pw = output_size
    out = np.zeros((len(rois), C, ph, pw), dtype=features.dtype)
    for k, (b, *box) in enumerate(rois):
        x1, y1, x2, y2 = (_round(v * spatial_scale) for v in box)
        roi_w, roi_h = max(x2 - x1 + 1, 1), max(y2 - y1 + 1, 1)  # in cells
        for i in range(ph):
            h0 = min(max(math.floor(i * roi_h / ph) + y1, 0), H)
            h1 = min(max(math.ceil((i + 1) * roi_h / ph) + y1, 0), H)
            for j in range(pw):
                w0 = min(max(math.floor(j * roi_w / pw) + x1, 0), W)
                w1 = min(max(math.ceil((j + 1) * roi_w / pw) + x1, 0), W)
                if h1 > h0 and w1 > w0:
                    out[k, :, i, j] = features[int(b), :, h0:h1, w0:w1].max(axis=(1, 2))
    return out


# --8<-- [end:roi-pool]


# --8<-- [start:roi-align]
def bilinear(feature: FloatArray, y: float, x: float) -> FloatArray:
    """Bilinear interpolation of ``feature`` (C, H, W) at ``(y, x)`` as RoIAlign.

    Points more than one cell outside the map give 0; others are clamped to the
    border first.
    """
    _, H, W = feature.shape
    if y < -1.0 or y > H or x < -1.0 or x > W:
        return np.zeros(feature.shape[0], dtype=feature.dtype)
    y, x = min(max(y, 0.0), H - 1), min(max(x, 0.0), W - 1)
    y0, x0 = int(y), int(x)
    y1, x1 = min(y0 + 1, H - 1), min(x0 + 1, W - 1)
    ly, lx = y - y0, x - x0
    return (
        (1 - ly) * (1 - lx) * feature[:, y0, x0]
        + (1 - ly) * lx * feature[:, y0, x1]
        + ly * (1 - lx) * feature[:, y1, x0]
        + ly * lx * feature[:, y1, x1]
    )


def roi_align(
    features: FloatArray,
    rois: FloatArray,
    output_size: tuple[int, int],
    spatial_scale: float = 1.0,
    sampling_ratio: int = -1,
    aligned: bool = True,
) -> FloatArray:
    """RoIAlign (Mask R-CNN): no rounding anywhere, bilinear samples averaged.

    Like ``torchvision.ops.roi_align``: the RoI (scaled, and shifted by half a
    cell when ``aligned``) is divided into ``output_size`` equal bins; each bin
    averages ``sampling_ratio**2`` bilinear samples on a regular grid inside it
    (``sampling_ratio <= 0``: ``ceil(bin size)`` per side). Returns (K, C, ph, pw).
    """
    _check_rois(features, rois)
    ph, pw = output_size
    out = np.zeros((len(rois), features.shape[1], ph, pw), dtype=features.dtype)
    offset = 0.5 if aligned else 0.0
    for k, (b, *box) in enumerate(rois):
        x1, y1, x2, y2 = (v * spatial_scale - offset for v in box)
        roi_w, roi_h = x2 - x1, y2 - y1
        if not aligned:  # the legacy version forces at least one cell
            roi_w, roi_h = max(roi_w, 1.0), max(roi_h, 1.0)
        bin_h, bin_w = roi_h / ph, roi_w / pw
        n_y = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_h / ph)
        n_x = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_w / pw)
        for i in range(ph):
            for j in range(pw):
                acc = np.zeros(features.shape[1])
                for iy in range(n_y):
                    y = y1 + i * bin_h + (iy + 0.5) * bin_h / n_y
                    for ix in range(n_x):
                        x = x1 + j * bin_w + (ix + 0.5) * bin_w / n_x
                        acc += bilinear(features[int(b)], y, x)
                out[k, :, i, j] = acc / max(n_y * n_x, 1)
    return out


# --8<-- [end:roi-align]
