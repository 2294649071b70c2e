"""Detection building blocks vs brute-force oracles (torchvision is not installed)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from dlnotes.numpy.detection import (
    anchor_grid,
    box_area,
    box_convert,
    box_iou,
    decode_boxes,
    encode_boxes,
    nms,
    roi_align,
    roi_pool,
    ssd_default_boxes,
)


def random_boxes(rng: np.random.Generator, n: int, size: int = 30) -> np.ndarray:
    """Integer xyxy boxes inside a size x size image, at least 1 pixel wide."""
    xy = rng.integers(0, size - 1, (n, 2))
    wh = rng.integers(1, size // 2, (n, 2))
    return np.concatenate([xy, np.minimum(xy + wh, size)], axis=1).astype(float)


def raster(box: np.ndarray, size: int = 30) -> np.ndarray:
    """The pixels (cells [j, j+1) x [i, i+1)) a box with integer corners covers."""
    mask = np.zeros((size, size), dtype=bool)
    x1, y1, x2, y2 = box.astype(int)
    mask[y1:y2, x1:x2] = True
    return mask


def test_iou_equals_counting_pixels() -> None:
    rng = np.random.default_rng(0)
    a, b = random_boxes(rng, 12), random_boxes(rng, 9)
    iou = box_iou(a, b)
    for i, j in itertools.product(range(len(a)), range(len(b))):
        ma, mb = raster(a[i]), raster(b[j])
        assert iou[i, j] == pytest.approx((ma & mb).sum() / (ma | mb).sum(), abs=1e-12)
    np.testing.assert_allclose(box_area(a), [raster(x).sum() for x in a])


def test_box_formats_round_trip_and_mean_what_they_say() -> None:
    xyxy = np.array([[10.0, 20.0, 50.0, 80.0]])
    np.testing.assert_allclose(box_convert(xyxy, "xyxy", "xywh"), [[10, 20, 40, 60]])
    np.testing.assert_allclose(box_convert(xyxy, "xyxy", "cxcywh"), [[30, 50, 40, 60]])
    rng = np.random.default_rng(1)
    boxes = random_boxes(rng, 20)
    for fmt in ("xywh", "cxcywh"):
        there = box_convert(boxes, "xyxy", fmt)
        np.testing.assert_allclose(box_convert(there, fmt, "xyxy"), boxes, atol=1e-12)
        np.testing.assert_allclose(
            box_convert(there, fmt, "xywh" if fmt == "cxcywh" else "cxcywh"),
            box_convert(boxes, "xyxy", "xywh" if fmt == "cxcywh" else "cxcywh"),
            atol=1e-12,
        )
    with pytest.raises(ValueError, match="in_fmt"):
        box_convert(xyxy, "yxyx", "xyxy")


def test_box_coder_round_trip_and_invariances() -> None:
    rng = np.random.default_rng(2)
    anchors, boxes = random_boxes(rng, 50), random_boxes(rng, 50)
    weights = (10.0, 10.0, 5.0, 5.0)  # Faster R-CNN's
    deltas = encode_boxes(boxes, anchors, weights)
    np.testing.assert_allclose(decode_boxes(deltas, anchors, weights), boxes, atol=1e-9)
    # a box half a width to the right of its anchor and twice as tall
    anchor = np.array([0.0, 0.0, 10.0, 20.0])
    box = np.array([5.0, -10.0, 15.0, 30.0])
    np.testing.assert_allclose(encode_boxes(box, anchor), [0.5, 0.0, 0.0, np.log(2)])
    # scale invariance: the same relative offset at 3x the size
    np.testing.assert_allclose(
        encode_boxes(3 * box, 3 * anchor), encode_boxes(box, anchor)
    )


def nms_brute_force(boxes: np.ndarray, scores: np.ndarray, thr: float) -> list[int]:
    """The definition, written with lists and a pairwise IoU of two boxes."""

    def iou(a, b) -> float:
        w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        inter = w * h
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
        return inter / union

    remaining = sorted(range(len(boxes)), key=lambda i: -scores[i])
    keep: list[int] = []
    while remaining:
        best = remaining.pop(0)
        keep.append(best)
        remaining = [i for i in remaining if iou(boxes[best], boxes[i]) <= thr]
    return keep


@pytest.mark.parametrize("thr", [0.0, 0.3, 0.5, 0.7])
def test_nms_matches_brute_force(thr: float) -> None:
    rng = np.random.default_rng(3)
    boxes = random_boxes(rng, 60)
    scores = rng.random(60)
    keep = nms(boxes, scores, thr)
    assert keep.tolist() == nms_brute_force(boxes, scores, thr)
    kept_iou = box_iou(boxes[keep], boxes[keep])
    assert (kept_iou[~np.eye(len(keep), dtype=bool)] <= thr).all()


def test_anchor_grid_sizes_ratios_and_centres() -> None:
    sizes, ratios = (32.0, 64.0), (0.5, 1.0, 2.0)
    anchors = anchor_grid((3, 4), stride=16, sizes=sizes, aspect_ratios=ratios)
    assert anchors.shape == (3 * 4 * 6, 4)
    cxcywh = box_convert(anchors, "xyxy", "cxcywh").reshape(3, 4, 6, 4)
    shape = cxcywh.shape[:3]
    want_x = np.broadcast_to((np.arange(4) * 16.0)[None, :, None], shape)
    want_y = np.broadcast_to((np.arange(3) * 16.0)[:, None, None], shape)
    np.testing.assert_allclose(cxcywh[..., 0], want_x)
    np.testing.assert_allclose(cxcywh[..., 1], want_y)
    want_area = np.array([s * s for _ in ratios for s in sizes])
    want_ratio = np.array([r for r in ratios for _ in sizes])
    w, h = cxcywh[0, 0, :, 2], cxcywh[0, 0, :, 3]
    np.testing.assert_allclose(w * h, want_area, rtol=0.06)  # corners are rounded
    np.testing.assert_allclose(h / w, want_ratio, rtol=0.06)


def test_ssd300_has_8732_default_boxes() -> None:
    boxes = ssd_default_boxes(
        [38, 19, 10, 5, 3, 1], [[2], [2, 3], [2, 3], [2, 3], [2], [2]]
    )
    assert boxes.shape == (8732, 4)  # the number in the SSD paper
    assert boxes.min() >= 0 and boxes.max() <= 1
    first = boxes[:4]  # cell (0, 0) of the 38x38 map: s_1 = 0.2
    np.testing.assert_allclose(first[0], [0.5 / 38, 0.5 / 38, 0.2, 0.2])
    np.testing.assert_allclose(first[2, 2] * first[2, 3], 0.04)  # same area, ratio 2
    np.testing.assert_allclose(first[2, 2] / first[2, 3], 2.0)


def test_roi_pool_is_max_pooling_of_the_crop_when_bins_are_whole() -> None:
    rng = np.random.default_rng(4)
    feats = rng.normal(size=(2, 3, 16, 16))
    # rows (batch, x1, y1, x2, y2) in image pixels; spatial_scale 1/2
    rois = np.array([[1, 4.0, 2.0, 18.0, 14.0], [0, 0.0, 0.0, 30.0, 30.0]])
    out = roi_pool(feats, rois, (2, 2), spatial_scale=0.5)
    # roi 0 -> cells x 2..9, y 1..7 (8 x 7): bins of 4 x (3 or 4) cells, floor/ceil
    crop = feats[1, :, 1:8, 2:10]
    np.testing.assert_allclose(out[0, :, 0, 0], crop[:, 0:4, 0:4].max(axis=(1, 2)))
    np.testing.assert_allclose(out[0, :, 1, 1], crop[:, 3:7, 4:8].max(axis=(1, 2)))
    whole = feats[0, :, 0:16, 0:16].reshape(3, 2, 8, 2, 8).max(axis=(2, 4))
    np.testing.assert_allclose(out[1], whole)
    ident = roi_pool(feats, np.array([[0, 0.0, 0.0, 15.0, 15.0]]), (16, 16))
    np.testing.assert_allclose(ident[0], feats[0])


def test_roi_align_is_exact_on_a_linear_feature_map() -> None:
    # Bilinear interpolation reproduces a linear field exactly, and the samples
    # of a bin are symmetric about its centre, so each output is f(bin centre).
    H, W = 20, 24
    yy, xx = np.mgrid[0:H, 0:W].astype(float)
    feats = np.stack([0.3 * xx - 0.7 * yy + 2.0, 1.5 * yy])[None]  # (1, 2, H, W)
    rois = np.array([[0, 3.2, 4.1, 17.9, 13.3], [0, 10.0, 2.0, 22.0, 18.5]])
    for aligned, ratio in ((True, 2), (False, 3), (True, -1)):
        out = roi_align(feats, rois, (3, 4), 1.0, ratio, aligned)
        for k, (_, x1, y1, x2, y2) in enumerate(rois):
            off = 0.5 if aligned else 0.0
            x1, y1, x2, y2 = x1 - off, y1 - off, x2 - off, y2 - off
            cy = y1 + (np.arange(3) + 0.5) * (y2 - y1) / 3
            cx = x1 + (np.arange(4) + 0.5) * (x2 - x1) / 4
            want0 = 0.3 * cx[None, :] - 0.7 * cy[:, None] + 2.0
            np.testing.assert_allclose(out[k, 0], want0, atol=1e-12)
            np.testing.assert_allclose(
                out[k, 1], np.broadcast_to(1.5 * cy[:, None], (3, 4))
            )


def test_roi_align_outside_the_map_is_zero_and_bad_rois_name_themselves() -> None:
    feats = np.ones((1, 1, 8, 8))
    far = roi_align(feats, np.array([[0, 40.0, 40.0, 50.0, 50.0]]), (2, 2))
    np.testing.assert_array_equal(far, 0.0)
    inside = roi_align(feats, np.array([[0, 1.0, 1.0, 6.0, 6.0]]), (2, 2))
    np.testing.assert_allclose(inside, 1.0)
    with pytest.raises(ValueError, match="rois must have shape"):
        roi_pool(feats, np.zeros((2, 4)), (2, 2))
    with pytest.raises(ValueError, match="need boxes"):
        nms(np.zeros((3, 4)), np.zeros(2), 0.5)
