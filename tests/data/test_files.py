"""File datasets read through torchvision, on tiny copies written here in the real formats:
CIFAR-10's pickled batches, MNIST's idx files and a folder of PNGs."""

from __future__ import annotations

import hashlib
import pickle
import struct

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.datasets import CIFAR10

from bench.data import DATASETS
from bench.errors import BenchError

PER_BATCH = 4  # images per CIFAR-10 batch file: 5 train batches -> 20 train, 4 test


def md5(path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def tiny_cifar(tmp_path, monkeypatch):
    """A format-identical CIFAR-10 copy; torchvision's checksums are pointed at its files so the
    real integrity check runs (the originals' md5s are for the 163 MB files)."""
    folder = tmp_path / "cifar" / CIFAR10.base_folder
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = [name for name, _ in CIFAR10.train_list + CIFAR10.test_list]
    pixels = {}
    for i, name in enumerate(names):
        data = rng.integers(0, 256, size=(PER_BATCH, 3 * 32 * 32), dtype=np.uint8)
        data[0, 0], data[0, 1] = 0, 255  # the full range appears
        labels = [(i * PER_BATCH + j) % 10 for j in range(PER_BATCH)]
        batch = {"batch_label": name, "labels": labels, "data": data, "filenames": ["x.png"] * 4}
        (folder / name).write_bytes(pickle.dumps(batch))
        pixels[name] = (data, labels)
    meta = {"label_names": [f"class{k}" for k in range(10)], "num_cases_per_batch": PER_BATCH}
    (folder / CIFAR10.meta["filename"]).write_bytes(pickle.dumps(meta))
    sums = lambda table: [[name, md5(folder / name)] for name, _ in table]  # noqa: E731
    monkeypatch.setattr(CIFAR10, "train_list", sums(CIFAR10.train_list))
    monkeypatch.setattr(CIFAR10, "test_list", sums(CIFAR10.test_list))
    monkeypatch.setattr(
        CIFAR10, "meta", {**CIFAR10.meta, "md5": md5(folder / CIFAR10.meta["filename"])}
    )
    return tmp_path / "cifar", pixels


def cifar(root, **params):
    cls = DATASETS.get("cifar10")
    return cls(cls.Params(root=str(root), **params))


def test_cifar10_loads_the_official_split(tiny_cifar):
    root, pixels = tiny_cifar
    dataset = cifar(root)
    splits = dataset.load()
    assert dataset.info.shape == (3, 32, 32) and dataset.eval_spec.feature_space == "inception"
    assert splits.train.shape == (5 * PER_BATCH, 3, 32, 32) and splits.train.dtype == torch.float32
    assert splits.heldout.shape == (PER_BATCH, 3, 32, 32)
    assert splits.train.min() == 0.0 and splits.train.max() == 1.0
    # the first image of data_batch_1, channel-first, scaled to [0, 1]
    first, labels = pixels["data_batch_1"]
    expected = torch.as_tensor(first[0].reshape(3, 32, 32), dtype=torch.float32) / 255
    assert torch.equal(splits.train[0], expected)
    assert splits.train_labels[:PER_BATCH].tolist() == labels
    test, test_labels = pixels["test_batch"]
    assert splits.heldout_labels.tolist() == test_labels
    assert torch.equal(splits.heldout[1], torch.as_tensor(test[1].reshape(3, 32, 32)) / 255)


def test_cifar10_random_split_follows_the_bench_convention(tiny_cifar):
    root, _ = tiny_cifar
    splits = cifar(root, heldout="random", heldout_fraction=0.25).load()
    assert len(splits.train) == 15 and len(splits.heldout) == 5  # the test batch is not used
    assert set(splits.train_labels.tolist()) | set(splits.heldout_labels.tolist()) == set(range(10))


def test_cifar10_missing_files_say_where_and_how_to_fix(tmp_path):
    with pytest.raises(BenchError) as caught:
        cifar(tmp_path / "nowhere").load()
    error = caught.value
    assert str(tmp_path / "nowhere" / "cifar-10-batches-py") in error.what
    assert "data_batch_1" in error.what and "download: true" in error.fix


def test_cifar10_checksums_are_checked(tiny_cifar, monkeypatch):
    root, _ = tiny_cifar
    batch = root / CIFAR10.base_folder / "data_batch_3"
    batch.write_bytes(batch.read_bytes()[:-1])  # truncated: its md5 no longer matches
    with pytest.raises(BenchError, match="integrity check") as caught:
        cifar(root).load()
    assert "download: true" in caught.value.fix


def write_idx(path, array: np.ndarray) -> None:
    """The idx format: zero bytes, type code 0x08 (uint8), the rank, big-endian sizes, data."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", n) for n in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_mnist_reads_idx_files(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(1)
    images = {p: rng.integers(0, 256, size=(n, 28, 28)) for p, n in (("train", 12), ("t10k", 5))}
    for prefix, array in images.items():
        write_idx(raw / f"{prefix}-images-idx3-ubyte", array)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", np.arange(len(array)) % 10)
    cls = DATASETS.get("mnist")
    dataset = cls(cls.Params(root=str(tmp_path)))
    splits = dataset.load()
    assert dataset.info.shape == (1, 28, 28) and dataset.eval_spec.num_modes == 10
    assert dataset.eval_spec.feature_space == "classifier"
    assert splits.train.shape == (12, 1, 28, 28) and splits.heldout.shape == (5, 1, 28, 28)
    assert torch.equal(splits.train[3, 0], torch.as_tensor(images["train"][3]).float() / 255)
    assert splits.heldout_labels.tolist() == [0, 1, 2, 3, 4]


def test_mnist_missing_files_are_named(tmp_path):
    cls = DATASETS.get("mnist")
    with pytest.raises(BenchError, match="train-images-idx3-ubyte") as caught:
        cls(cls.Params(root=str(tmp_path))).load()
    assert str(tmp_path / "MNIST" / "raw") in caught.value.what


def test_image_folder_resizes_and_splits(tmp_path):
    for k, colour in enumerate(((255, 0, 0), (0, 0, 255))):
        (tmp_path / f"class{k}").mkdir()
        for i in range(5):
            Image.new("RGB", (20, 12), colour).save(tmp_path / f"class{k}" / f"{i}.png")
    (tmp_path / "class0" / "notes.txt").write_text("not an image")
    cls = DATASETS.get("image_folder")
    dataset = cls(cls.Params(root=str(tmp_path), image_size=8, heldout_fraction=0.2))
    splits = dataset.load()
    assert dataset.info.shape == (3, 8, 8)
    assert splits.train.shape == (8, 3, 8, 8) and splits.heldout.shape == (2, 3, 8, 8)
    reds = torch.cat([splits.train, splits.heldout])[:, 0].flatten(1).mean(1)
    assert sorted(reds.tolist()) == [0.0] * 5 + [1.0] * 5  # every image read once, RGB order
    grey = cls(cls.Params(root=str(tmp_path), image_size=6, channels=1)).load()
    assert grey.train.shape[1:] == (1, 6, 6) and grey.train.max() <= 1.0


@pytest.mark.parametrize("layout", ["absent", "flat", "empty"])
def test_image_folder_problems_are_bench_errors(tmp_path, layout):
    root = tmp_path / "images"
    if layout != "absent":
        root.mkdir()
    if layout == "flat":  # images directly in root: ImageFolder needs class subfolders
        Image.new("RGB", (4, 4)).save(root / "a.png")
    if layout == "empty":
        (root / "cats").mkdir()
    cls = DATASETS.get("image_folder")
    with pytest.raises(BenchError) as caught:
        cls(cls.Params(root=str(root))).load()
    assert str(root) in caught.value.what and caught.value.fix


def test_nothing_touches_the_disk_before_load(tmp_path):
    for name in ("cifar10", "mnist", "image_folder"):
        cls = DATASETS.get(name)
        dataset = cls(cls.Params(root=str(tmp_path / "absent")))
        assert dataset.info.kind == "image" and dataset.eval_spec.feature_space
    assert not (tmp_path / "absent").exists()
