"""Hand-made kernels on a real photograph, checked against scipy.ndimage."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from dlnotes.numpy.filters import (
    KERNELS,
    LAPLACIAN,
    SOBEL_X,
    SOBEL_Y,
    apply_kernel,
    edge_magnitude,
    gaussian_kernel,
    load_photo,
    multichannel_feature_map,
    to_grayscale,
)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return load_photo("china.jpg")


def test_photo_ships_with_scikit_learn(photo: np.ndarray) -> None:
    assert photo.shape == (427, 640)
    assert 0.0 <= photo.min() < photo.max() <= 1.0
    rgb = load_photo("flower.jpg", gray=False)
    assert rgb.shape == (427, 640, 3)
    with pytest.raises(ValueError, match="name"):
        load_photo("lena.png")


def test_grayscale_is_bt601_luma() -> None:
    rgb = np.zeros((1, 3, 3))
    rgb[0, 0] = [1, 0, 0]
    rgb[0, 1] = [0, 1, 0]
    rgb[0, 2] = [0.5, 0.5, 0.5]
    np.testing.assert_allclose(to_grayscale(rgb)[0], [0.299, 0.587, 0.5])
    with pytest.raises(ValueError, match="rgb"):
        to_grayscale(np.zeros((4, 4)))


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_apply_kernel_matches_scipy_correlate(photo: np.ndarray, name: str) -> None:
    """Deep-learning 'convolution' is cross-correlation with zero padding."""
    crop = photo[100:180, 200:300]
    got = apply_kernel(crop, KERNELS[name])
    ref = ndimage.correlate(crop, KERNELS[name], mode="constant", cval=0.0)
    assert got.shape == crop.shape
    np.testing.assert_allclose(got, ref, atol=1e-12)


def test_sobel_x_finds_a_vertical_edge_and_its_direction() -> None:
    img = np.zeros((8, 8))
    img[:, 4:] = 1.0  # dark left half, bright right half
    gx = apply_kernel(img, SOBEL_X)[1:-1, 1:-1]  # away from the zero padding
    gy = apply_kernel(img, SOBEL_Y)[1:-1, 1:-1]
    assert np.all(gx[:, 2:4] == 4.0)  # columns 3 and 4 straddle the edge
    assert np.all(gx[:, [0, 1, 4, 5]] == 0.0)  # flat regions give no response
    assert np.all(gy == 0.0)  # no horizontal edge
    flipped = apply_kernel(img[:, ::-1], SOBEL_X)[1:-1, 1:-1]
    assert np.all(flipped[:, 2:4] == -4.0)  # bright-to-dark: negative response


def test_zero_sum_kernels_ignore_flat_regions_and_blurs_keep_them() -> None:
    flat = np.full((9, 9), 0.7)
    for k in (SOBEL_X, SOBEL_Y, LAPLACIAN):
        assert np.allclose(apply_kernel(flat, k)[2:-2, 2:-2], 0.0)
    for name in ("box_blur", "gaussian", "sharpen"):
        assert np.allclose(apply_kernel(flat, KERNELS[name])[2:-2, 2:-2], 0.7)


def test_gaussian_kernel() -> None:
    g = gaussian_kernel(5, 1.0)
    assert g.shape == (5, 5) and g.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(g, g.T)
    assert g.argmax() == 12  # the centre
    with pytest.raises(ValueError, match="size"):
        gaussian_kernel(4)
    with pytest.raises(ValueError, match="sigma"):
        gaussian_kernel(3, 0.0)


def test_edges_of_the_photo_are_sparse(photo: np.ndarray) -> None:
    mag = edge_magnitude(photo)
    assert mag.shape == photo.shape
    # most pixels are in smooth regions: the median response is far below the top
    assert np.median(mag) < 0.1 * np.percentile(mag, 99.9)


def test_apply_kernel_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="image"):
        apply_kernel(np.zeros((2, 4, 4)), SOBEL_X)
    with pytest.raises(ValueError, match="kernel"):
        apply_kernel(np.zeros((4, 4)), np.zeros(3))
    with pytest.raises(ValueError, match="kernel_size"):
        apply_kernel(np.zeros((8, 8)), np.zeros((2, 2)))  # even: no same padding


def test_multichannel_filter_sums_its_channel_slices() -> None:
    rgb = load_photo("flower.jpg", gray=False)[::8, ::8]
    weight = np.stack([SOBEL_X, SOBEL_Y, LAPLACIAN])
    partials, fmap = multichannel_feature_map(rgb, weight, bias=0.25)
    assert partials.shape == (3, *rgb.shape[:2]) and fmap.shape == rgb.shape[:2]
    np.testing.assert_allclose(partials.sum(axis=0) + 0.25, fmap, atol=1e-12)
    with pytest.raises(ValueError, match="weight"):
        multichannel_feature_map(rgb, weight[:2])
