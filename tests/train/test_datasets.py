"""dlnotes.train.datasets: every dataset, the CIFAR pickle format, missing data."""

from __future__ import annotations

import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from dlnotes.train.config import DATASETS as CONFIG_DATASETS
from dlnotes.train.data import (
    DatasetNotFoundError,
    ImageFolderDataset,
)
from dlnotes.train.datasets import (
    DATASETS,
    load_cifar,
    load_dataset,
    load_digits_data,
    make_synthetic,
)


def test_every_config_dataset_is_known_to_the_loader(tmp_path: Path) -> None:
    assert DATASETS is CONFIG_DATASETS
    for name in DATASETS:  # loads, or says where the files should be
        try:
            bundle = load_dataset(name, data_dir=tmp_path, image_size=8)
        except DatasetNotFoundError as exc:
            assert str(tmp_path) in str(exc)
        else:
            assert bundle.name == name and len(bundle.train) > 0
    with pytest.raises(ValueError, match="dataset must be one of"):
        load_dataset("mnist")


# ---------------------------------------------------------------------------
# digits
# ---------------------------------------------------------------------------


def test_digits_pad_places_the_original_8x8_digit_in_the_centre() -> None:
    bundle = load_digits_data(image_size=16, in_channels=1, mode="pad", seed=3)
    raw = load_digits()
    assert bundle.input_shape == (1, 16, 16)
    assert len(bundle.train) + len(bundle.test) == len(raw.target) == 1797
    x = bundle.train.images[:, 0]
    centre = x[:, 4:12, 4:12].numpy()
    border = x.clone()
    border[:, 4:12, 4:12] = 0
    assert float(border.abs().max()) == 0.0
    # every training image is one of sklearn's digits / 16, with its own label
    flat = {
        img.tobytes(): int(t)
        for img, t in zip(raw.images / 16.0, raw.target, strict=True)
    }
    for img, label in zip(centre[:50], bundle.train.labels[:50].tolist(), strict=True):
        assert flat[img.astype(np.float64).tobytes()] == label


def test_digits_split_is_stratified_and_seeded() -> None:
    a = load_digits_data(image_size=8, test_fraction=0.25, seed=0)
    b = load_digits_data(image_size=8, test_fraction=0.25, seed=0)
    c = load_digits_data(image_size=8, test_fraction=0.25, seed=1)
    assert torch.equal(a.train.images, b.train.images)
    assert not torch.equal(a.train.images, c.train.images)
    counts = torch.bincount(a.test.labels, minlength=10)
    totals = np.bincount(load_digits().target, minlength=10)
    assert np.allclose(counts.numpy(), totals * 0.25, atol=1)


def test_digits_upsample_three_channels_and_statistics() -> None:
    bundle = load_digits_data(image_size=32, in_channels=3)
    x = bundle.train.images
    assert x.shape[1:] == (3, 32, 32) and x.dtype == torch.float32
    assert float(x.min()) >= 0 and float(x.max()) <= 1
    assert torch.equal(x[:, 0], x[:, 2])
    arr = x.numpy().astype(np.float64)
    assert np.allclose(bundle.preprocessing.mean, arr.mean(axis=(0, 2, 3)))
    assert np.allclose(bundle.preprocessing.std, arr.std(axis=(0, 2, 3), ddof=1))
    assert bundle.preprocessing.input_size == (32, 32)


def test_digits_bad_arguments() -> None:
    with pytest.raises(ValueError, match="mode"):
        load_digits_data(mode="stretch")
    with pytest.raises(ValueError, match="in_channels"):
        load_digits_data(in_channels=2)


# ---------------------------------------------------------------------------
# synthetic
# ---------------------------------------------------------------------------


def test_synthetic_any_shape_seeded_and_learnable() -> None:
    a = make_synthetic((2, 12, 20), num_classes=4, num_train=400, num_test=200, seed=5)
    b = make_synthetic((2, 12, 20), num_classes=4, num_train=400, num_test=200, seed=5)
    assert a.train.images.shape == (400, 2, 12, 20)
    assert a.train.images.dtype == torch.uint8
    assert torch.equal(a.train.images, b.train.images)
    assert torch.equal(a.test.labels, b.test.labels)
    assert torch.bincount(a.train.labels).tolist() == [100] * 4
    # learnable: the nearest class mean (computed with NumPy) classifies test images
    xtr = a.train.images.numpy().reshape(400, -1).astype(np.float64)
    xte = a.test.images.numpy().reshape(200, -1).astype(np.float64)
    ytr, yte = a.train.labels.numpy(), a.test.labels.numpy()
    means = np.stack([xtr[ytr == k].mean(0) for k in range(4)])
    pred = ((xte[:, None, :] - means[None]) ** 2).sum(-1).argmin(1)
    assert (pred == yte).mean() > 0.9


def test_synthetic_rejects_bad_shape() -> None:
    with pytest.raises(ValueError, match="shape"):
        make_synthetic((3, 32))


# ---------------------------------------------------------------------------
# CIFAR in the official python pickle format
# ---------------------------------------------------------------------------


def _cifar_rows(n: int, seed: int) -> tuple[np.ndarray, list[int]]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 3072), dtype=np.uint8), rng.integers(
        0, 10, n
    ).tolist()


def write_cifar10(root: Path, per_batch: int = 6) -> dict[str, np.ndarray]:
    """A small CIFAR-10 in the official layout (dicts of bytes keys, protocol 2)."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rows = []
    for i in range(1, 6):
        data, labels = _cifar_rows(per_batch, i)
        rows.append(data)
        batch = {
            b"batch_label": f"training batch {i} of 5".encode(),
            b"labels": labels,
            b"data": data,
            b"filenames": [f"img{j}.png".encode() for j in range(per_batch)],
        }
        (folder / f"data_batch_{i}").write_bytes(pickle.dumps(batch, protocol=2))
    test, labels = _cifar_rows(4, 99)
    (folder / "test_batch").write_bytes(
        pickle.dumps({b"labels": labels, b"data": test}, protocol=2)
    )
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer"]
    names += [b"dog", b"frog", b"horse", b"ship", b"truck"]
    meta = {b"label_names": names, b"num_cases_per_batch": per_batch}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return {"train": np.concatenate(rows), "test": test}


def test_cifar10_reads_the_official_layout(tmp_path: Path) -> None:
    rows = write_cifar10(tmp_path)
    train, test, folder = load_cifar(tmp_path, num_classes=10)
    assert folder == tmp_path / "cifar-10-batches-py"
    assert train.images.shape == (30, 3, 32, 32) and train.images.dtype == torch.uint8
    assert test.images.shape == (4, 3, 32, 32)
    assert train.classes[0] == "airplane" and train.classes[9] == "truck"
    # a row holds 1024 red, then 1024 green, then 1024 blue values, row-major
    r = rows["train"][7]
    for c, i, j in [(0, 0, 0), (1, 5, 31), (2, 31, 7)]:
        assert int(train.images[7, c, i, j]) == int(r[c * 1024 + i * 32 + j])
    bundle = load_dataset("cifar10", data_dir=tmp_path)
    assert bundle.num_classes == 10 and bundle.input_shape == (3, 32, 32)
    mean = rows["train"].reshape(-1, 3, 1024).mean(axis=(0, 2)) / 255
    assert np.allclose(bundle.preprocessing.mean, mean)


def test_cifar10_archive_is_unpacked_on_first_use(tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_cifar10(src)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with tarfile.open(data_dir / "cifar-10-python.tar.gz", "w:gz") as tar:
        tar.add(src / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    train, _, folder = load_cifar(data_dir)
    assert folder == data_dir / "cifar-10-batches-py" and len(train) == 30


def test_cifar100_reads_fine_labels(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for split, n in (("train", 8), ("test", 3)):
        batch = {
            b"filenames": [b"x.png"] * n,
            b"fine_labels": rng.integers(0, 100, n).tolist(),
            b"coarse_labels": rng.integers(0, 20, n).tolist(),
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        }
        (folder / split).write_bytes(pickle.dumps(batch, protocol=2))
    meta = {
        b"fine_label_names": [f"fine{i}".encode() for i in range(100)],
        b"coarse_label_names": [f"coarse{i}".encode() for i in range(20)],
    }
    (folder / "meta").write_bytes(pickle.dumps(meta, protocol=2))
    bundle = load_dataset("cifar100", data_dir=tmp_path)
    expected = pickle.loads((folder / "train").read_bytes())[b"fine_labels"]
    assert bundle.num_classes == 100 and bundle.classes[42] == "fine42"
    assert bundle.train.labels.tolist() == expected
    assert len(bundle.test) == 3


class _Payload:
    """Unpickling this calls ``open(marker, "w")``: it would create a file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


def test_cifar_batch_that_would_run_code_is_refused(tmp_path: Path) -> None:
    write_cifar10(tmp_path)
    marker = tmp_path / "pwned"
    evil = pickle.dumps({b"data": _Payload(marker), b"labels": []}, protocol=2)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").write_bytes(evil)
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        load_cifar(tmp_path)
    assert not marker.exists()
    pickle.loads(evil)  # the payload is live: plain pickle does run it
    assert marker.exists()


def test_missing_cifar_gives_one_message_with_the_place(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("cifar100", data_dir=tmp_path / "data")
    message = str(info.value)
    assert "\n" not in message
    assert str(tmp_path / "data" / "cifar-100-python") in message
    assert "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz" in message


# ---------------------------------------------------------------------------
# image folders
# ---------------------------------------------------------------------------


def _write_images(root: Path, colours: dict[str, tuple[int, int, int]], n: int) -> None:
    from PIL import Image

    for name, rgb in colours.items():
        (root / name).mkdir(parents=True)
        for i in range(n):
            size = (30 + 3 * i, 20 + 2 * i)  # landscape, various sizes
            img = Image.new("RGB", size, rgb)
            img.save(root / name / f"{i}.{'png' if i % 2 else 'jpg'}")


def test_image_folder_split_resize_and_labels(tmp_path: Path) -> None:
    colours = {"blue": (0, 0, 250), "red": (250, 0, 0), "white": (255, 255, 255)}
    _write_images(tmp_path, colours, n=5)
    (tmp_path / "red" / "notes.txt").write_text("not an image", encoding="utf-8")
    bundle = load_dataset("imagefolder", data_dir=tmp_path, image_size=16)
    assert bundle.classes == ["blue", "red", "white"]
    assert len(bundle.train) == 12 and len(bundle.test) == 3
    assert isinstance(bundle.train, ImageFolderDataset)
    for i in range(len(bundle.train)):
        x, label = bundle.train[i]
        assert x.shape == (3, 16, 16) and x.dtype == torch.uint8
        expected = torch.tensor(colours[bundle.classes[label]], dtype=torch.float32)
        assert torch.allclose(x.float().mean(dim=(1, 2)), expected, atol=3)


def test_image_folder_train_val_layout(tmp_path: Path) -> None:
    _write_images(tmp_path / "train", {"a": (10, 10, 10), "b": (200, 200, 200)}, 3)
    _write_images(tmp_path / "val", {"b": (200, 200, 200)}, 2)
    bundle = load_dataset("imagefolder", data_dir=tmp_path, image_size=8, in_channels=1)
    assert len(bundle.train) == 6 and len(bundle.test) == 2
    assert bundle.test.labels.tolist() == [1, 1]  # "b" keeps its train index
    assert bundle.test[0][0].shape == (1, 8, 8)


def test_missing_image_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="<class>"):
        load_dataset("imagefolder", data_dir=tmp_path / "none")
