"""Figures of the detection page on scikit-learn's sample photo ``china.jpg``.

* ``detection-anchors-nms``: the anchors of one feature-map cell with their IoU
  to a ground-truth box, and greedy NMS turning many overlapping detections
  into one per object.
* ``detection-roi-pool-align``: one RoI of a stride-16 "feature map" (the
  photo's brightness, averaged over 16 x 16 blocks) pooled to 7 x 7 by RoI
  pooling (rounded to cells) and by RoI Align (bilinear, no rounding).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from dlnotes.numpy.detection import anchor_grid, box_iou, nms, roi_align, roi_pool
from dlnotes.numpy.types import FloatArray, IntArray
from dlnotes.viz import figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["GROUND_TRUTH", "noisy_detections", "sample_photo", "stride16_features"]

# xyxy boxes drawn by hand on china.jpg (640 x 427)
GROUND_TRUTH = {
    "pagoda": np.array([62.0, 25.0, 352.0, 400.0]),
    "tree": np.array([545.0, 135.0, 640.0, 427.0]),
}


def sample_photo() -> FloatArray:
    """``china.jpg`` from scikit-learn as floats in [0, 1], shape (427, 640, 3)."""
    from sklearn.datasets import load_sample_image

    return load_sample_image("china.jpg").astype(np.float64) / 255.0


def stride16_features(photo: FloatArray) -> FloatArray:
    """A (1, 1, H/16, W/16) map: mean brightness of each 16 x 16 block."""
    gray = photo.mean(axis=2)
    H, W = (s // 16 * 16 for s in gray.shape)
    blocks = gray[:H, :W].reshape(H // 16, 16, W // 16, 16)
    return blocks.mean(axis=(1, 3))[None, None]


# --8<-- [start:noisy-detections]
def noisy_detections(
    per_object: int = 12, seed: int = 0
) -> tuple[FloatArray, FloatArray, IntArray]:
    """What a detector outputs before NMS: jittered copies of each true box.

    Returns boxes (K, 4), scores (K,) and the object each box came from; a
    copy's score is higher the closer it is to the true box.
    """
    rng = np.random.default_rng(seed)
    boxes, scores, labels = [], [], []
    for k, gt in enumerate(GROUND_TRUTH.values()):
        w, h = gt[2] - gt[0], gt[3] - gt[1]
        jitter = rng.normal(0.0, 0.12, (per_object, 4)) * [w, h, w, h]
        copies = gt + jitter
        iou = box_iou(copies, gt[None])[:, 0]
        boxes.append(copies)
        scores.append(np.clip(iou + rng.normal(0, 0.05, per_object), 0.05, 0.99))
        labels.append(np.full(per_object, k))
    return np.concatenate(boxes), np.concatenate(scores), np.concatenate(labels)


# --8<-- [end:noisy-detections]


def _draw(ax: Axes, box: FloatArray, color: str, lw: float = 1.5, **kw: Any) -> None:
    from matplotlib.patches import Rectangle

    x1, y1, x2, y2 = box
    ax.add_patch(
        Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, ec=color, lw=lw, **kw)
    )


@figure("detection-anchors-nms")
def detection_anchors_nms() -> Figure:
    import matplotlib.pyplot as plt

    photo = sample_photo()
    H, W = photo.shape[:2]
    stride = 32
    anchors = anchor_grid((H // stride + 1, W // stride + 1), stride).reshape(
        H // stride + 1, W // stride + 1, 9, 4
    )
    gt = GROUND_TRUTH["pagoda"]
    cy, cx = round((gt[1] + gt[3]) / 2 / stride), round((gt[0] + gt[2]) / 2 / stride)
    cell = anchors[cy, cx]  # the 9 anchors of the cell nearest the box centre
    iou = box_iou(cell, gt[None])[:, 0]
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.6), layout="constrained")
    ax = axes[0]
    ax.imshow(photo)
    for a, v in zip(cell, iou, strict=True):
        best = v == iou.max()
        _draw(ax, a, "yellow" if best else "white", lw=2.5 if best else 0.8, ls="-")
    _draw(ax, gt, "lime", lw=2.5)
    ax.plot(cx * stride, cy * stride, "r+", ms=12, mew=2)
    ax.set(
        xlim=(-140, W + 20),
        ylim=(H + 60, -100),
        title=(
            f"9 anchors (sizes 128/256/512, ratios 1:2, 1:1, 2:1) at one cell; "
            f"best IoU {iou.max():.2f} (yellow)"
        ),
    )
    ax.title.set_fontsize(9)
    boxes, scores, _ = noisy_detections()
    keep = nms(boxes, scores, iou_threshold=0.5)
    ax = axes[1]
    ax.imshow(photo)
    for b in boxes:
        _draw(ax, b, "red", lw=0.6)
    for k in keep:
        _draw(ax, boxes[k], "yellow", lw=2.5)
        ax.text(boxes[k][0] + 3, boxes[k][1] + 14, f"{scores[k]:.2f}", color="yellow")
    ax.set(
        xlim=(0, W),
        ylim=(H, 0),
        title=f"NMS at IoU 0.5: {len(boxes)} boxes (red) -> {len(keep)} kept (yellow)",
    )
    ax.title.set_fontsize(9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    return fig


@figure("detection-roi-pool-align")
def detection_roi_pool_align() -> Figure:
    import matplotlib.pyplot as plt

    photo = sample_photo()
    feats = stride16_features(photo)
    roi = np.array([[0.0, *GROUND_TRUTH["pagoda"]]])
    pooled = roi_pool(feats, roi, (7, 7), spatial_scale=1 / 16)[0, 0]
    aligned = roi_align(feats, roi, (7, 7), spatial_scale=1 / 16, sampling_ratio=2)
    fig, axes = plt.subplots(
        1, 3, figsize=(12, 4), gridspec_kw={"width_ratios": [1.6, 1, 1]}
    )
    ax = axes[0]
    ax.imshow(feats[0, 0], cmap="gray", vmin=0, vmax=1)
    x1, y1, x2, y2 = GROUND_TRUTH["pagoda"] / 16 - 0.5  # pixel centres at integers
    _draw(axes[0], np.array([x1, y1, x2, y2]), "lime", lw=2)
    for i in range(1, 7):  # the 7 x 7 bins of RoI Align
        ax.plot([x1, x2], [y1 + i * (y2 - y1) / 7] * 2, color="lime", lw=0.5)
        ax.plot([x1 + i * (x2 - x1) / 7] * 2, [y1, y2], color="lime", lw=0.5)
    ax.set_title("stride-16 feature map (26 x 40) and the RoI's 7 x 7 bins", fontsize=9)
    for ax, data, title in (
        (axes[1], pooled, "RoI pooling: rounded bins, max"),
        (axes[2], aligned[0, 0], "RoI Align: exact bins, bilinear mean"),
    ):
        ax.imshow(data, cmap="gray", vmin=0, vmax=1)
        ax.set_title(title, fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig
