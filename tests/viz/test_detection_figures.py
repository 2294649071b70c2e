"""The detection figures render and what they show holds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dlnotes.numpy.detection import box_iou, nms, roi_align
from dlnotes.viz.detection import (
    GROUND_TRUTH,
    noisy_detections,
    sample_photo,
    stride16_features,
)
from tests.support.figures import assert_renders_png


@pytest.mark.parametrize("name", ["detection-anchors-nms", "detection-roi-pool-align"])
def test_figure_is_registered_and_renders_a_png(name: str, tmp_path: Path) -> None:
    assert_renders_png(name, tmp_path)


def test_nms_keeps_one_box_per_object_near_the_truth() -> None:
    boxes, scores, objects = noisy_detections()
    keep = nms(boxes, scores, 0.5)
    assert sorted(objects[keep].tolist()) == [0, 1]
    truth = np.stack(list(GROUND_TRUTH.values()))
    assert (box_iou(boxes[keep], truth).max(axis=1) > 0.7).all()
    assert len(nms(boxes, scores, 0.95)) > 2 * len(keep)  # a high threshold keeps more


def test_feature_map_is_block_means_and_roi_align_stays_inside_its_range() -> None:
    photo = sample_photo()
    feats = stride16_features(photo)
    assert feats.shape == (1, 1, 26, 40)
    assert feats[0, 0, 3, 5] == pytest.approx(photo[48:64, 80:96].mean())
    out = roi_align(feats, np.array([[0.0, *GROUND_TRUTH["pagoda"]]]), (7, 7), 1 / 16)
    assert feats.min() <= out.min() and out.max() <= feats.max()  # means of samples
