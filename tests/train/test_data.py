"""dlnotes.train.data: normalisation, augmentation, containers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlnotes.train.data import (
    TensorImageDataset,
    batch_generator,
    channel_mean_std,
    normalize,
    random_crop_flip,
)

# ---------------------------------------------------------------------------
# normalisation and augmentation
# ---------------------------------------------------------------------------


def test_normalize_uint8_and_float_agree() -> None:
    x8 = torch.randint(0, 256, (5, 3, 4, 4), dtype=torch.uint8)
    mean, std = channel_mean_std(x8)
    m, s = torch.tensor(mean), torch.tensor(std)
    a = normalize(x8, m, s)
    b = normalize(x8.float() / 255, m, s)
    assert torch.allclose(a, b)
    assert torch.allclose(a.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(a.std(dim=(0, 2, 3)), torch.ones(3), atol=1e-4)


def test_random_crop_flip_cuts_windows_of_the_padded_image() -> None:
    x = torch.rand(64, 2, 6, 5)
    out = random_crop_flip(x, padding=2, generator=batch_generator(0, 1, 2))
    again = random_crop_flip(x, padding=2, generator=batch_generator(0, 1, 2))
    other = random_crop_flip(x, padding=2, generator=batch_generator(0, 1, 3))
    assert torch.equal(out, again) and not torch.equal(out, other)
    padded = np.pad(x.numpy(), ((0, 0), (0, 0), (2, 2), (2, 2)))
    flips, offsets = 0, set()
    for i in range(64):  # search every window and its mirror (NumPy oracle)
        windows = {
            (dy, dx): padded[i, :, dy : dy + 6, dx : dx + 5]
            for dy in range(5)
            for dx in range(5)
        }
        found = [
            (dy, dx, flip)
            for (dy, dx), w in windows.items()
            for flip in (False, True)
            if np.array_equal(out[i].numpy(), w[..., ::-1] if flip else w)
        ]
        assert found, f"image {i} is no window of its padded input"
        flips += found[0][2]
        offsets.add(found[0][:2])
    assert 16 < flips < 48  # about half are mirrored
    assert len(offsets) > 10


def test_tensor_dataset_checks_shapes() -> None:
    with pytest.raises(ValueError, match="labels"):
        TensorImageDataset(torch.zeros(3, 1, 2, 2), torch.zeros(2), ["a"])
