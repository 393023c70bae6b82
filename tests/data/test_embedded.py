"""Embedded datasets: shapes, value ranges, splits, labels and known modes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from bench.data import DATASETS

EXPECTED = {
    # name: (sample shape, total points, labelled)
    "ring8": ((2,), 20_000, True),
    "grid25": ((2,), 20_000, True),
    "digits": ((1, 8, 8), 1_797, True),
    "mnist5k": ((1, 28, 28), 5_000, True),
}


@pytest.fixture(scope="module", params=sorted(EXPECTED))
def loaded(request):
    dataset = DATASETS.get(request.param)()
    return request.param, dataset, dataset.load()


FILE_BACKED = {"cifar10", "mnist", "image_folder"}  # read from disk: tests/data/test_files.py
COMPOSED = {
    "stacked_mnist",
    "mnist_pairs",
}  # built from mnist5k: tests/data/test_stacked_mnist_paired_digits.py
PROCEDURAL = {"shapes"}  # rendered with known factors: tests/data/test_shapes.py


def test_every_registered_dataset_is_covered_here():
    assert set(DATASETS.names()) - FILE_BACKED - COMPOSED - PROCEDURAL == set(EXPECTED)


def test_shapes_and_split_sizes(loaded):
    name, dataset, splits = loaded
    shape, total, labelled = EXPECTED[name]
    assert dataset.info.shape == shape
    assert splits.train.shape[1:] == splits.heldout.shape[1:] == shape
    assert len(splits.train) + len(splits.heldout) == total
    assert len(splits.heldout) == round(total * 0.2)
    assert splits.train.dtype == torch.float32
    assert (splits.train_labels is not None) == labelled
    assert len(splits.train_labels) == len(splits.train)


def test_values_lie_in_the_declared_range(loaded):
    _, dataset, splits = loaded
    if dataset.info.value_range is None:
        assert torch.isfinite(splits.train).all()
        return
    low, high = dataset.info.value_range
    assert splits.train.min() >= low and splits.train.max() <= high
    assert splits.train.max() == high  # scaled to use the whole range


def test_splits_are_disjoint_and_fixed_by_the_data_seed(loaded):
    name, dataset, splits = loaded
    again = DATASETS.get(name)().load()
    assert torch.equal(splits.train, again.train) and torch.equal(splits.heldout, again.heldout)
    other = DATASETS.get(name)(dataset.Params(data_seed=1)).load()
    assert not torch.equal(splits.heldout, other.heldout)
    if dataset.info.kind == "points":  # continuous draws never coincide across the split
        train_rows = {tuple(r) for r in splits.train.tolist()}
        assert not train_rows & {tuple(r) for r in splits.heldout.tolist()}


@pytest.mark.parametrize("name", ["digits", "mnist5k"])
def test_image_labels_cover_all_ten_classes(name):
    dataset = DATASETS.get(name)()
    splits = dataset.load()
    assert dataset.info.kind == "image" and dataset.info.num_classes == 10
    assert set(splits.train_labels.tolist()) == set(range(10))


@pytest.mark.parametrize(
    ("name", "k", "spacing", "std"),
    [("ring8", 8, 2 * math.sin(math.pi / 8), 0.01), ("grid25", 25, 2.0, 0.05)],
)
def test_mixtures_match_their_published_geometry(name, k, spacing, std):
    dataset = DATASETS.get(name)()
    centers = dataset.eval_spec.mode_centers
    assert centers.shape == (k, 2) and dataset.eval_spec.mode_std == std
    gaps = np.linalg.norm(centers[:, None] - centers[None], axis=-1)
    np.fill_diagonal(gaps, np.inf)
    assert gaps.min() == pytest.approx(spacing)
    splits = dataset.load()
    nearest = torch.cdist(splits.train, torch.as_tensor(centers, dtype=torch.float32)).min(1)
    # every point within 5 std of a centre, and the spread matches the declared std
    assert nearest.values.max() < 5 * std
    assert (nearest.values.pow(2).mean() / 2).sqrt().item() == pytest.approx(std, rel=0.05)
    assert np.bincount(splits.train_labels.numpy(), minlength=k).min() > 0


def test_unknown_params_are_rejected():
    with pytest.raises(ValueError, match="n_sampels"):
        DATASETS.get("ring8").Params(n_sampels=10)
