"""The procedural `shapes` dataset: sizes, values, factor labels that agree with the pixels,
determinism, and splits that carry the factors."""

from __future__ import annotations

import math

import pytest
import torch
from pydantic import ValidationError

from bench.data import DATASETS
from bench.data.base import DatasetParams, split
from bench.data.shapes import FACTOR_NAMES, MAX_RADIUS, SHAPES, ShapesParams, all_factors, render

SMALL = ShapesParams(resolution=16, n_scales=2, n_rotations=4, n_positions=4)


@pytest.fixture(scope="module")
def dataset():
    return DATASETS.get("shapes")()


@pytest.fixture(scope="module")
def splits(dataset):
    return dataset.load()


def images_and_factors(splits):
    return (
        torch.cat([splits.train, splits.heldout]),
        torch.cat([splits.train_factors, splits.heldout_factors]),
    )


def centroid(images: torch.Tensor) -> torch.Tensor:
    """(N, 2) intensity-weighted (column, row) centre of (N, 1, H, W) images, in pixel units."""
    _, _, h, w = images.shape
    mass = images.sum(dim=(1, 2, 3))
    cols = (images.sum(dim=(1, 2)) * torch.arange(w)).sum(1) / mass
    rows = (images.sum(dim=(1, 3)) * torch.arange(h)).sum(1) / mass
    return torch.stack([cols, rows], dim=1)


def test_info_declares_the_factors(dataset):
    info = dataset.info
    assert info.shape == (1, 20, 20) and info.kind == "image" and info.value_range == (0.0, 1.0)
    assert info.factor_names == FACTOR_NAMES == ("shape", "scale", "rotation", "x", "y")
    assert info.factor_sizes == (3, 5, 8, 8, 8)
    assert info.num_classes is None
    assert dataset.eval_spec.feature_space == "raw"


def test_sizes_values_and_the_full_factorial(dataset, splits):
    total = math.prod(dataset.info.factor_sizes)
    assert len(splits.train) + len(splits.heldout) == total == 7680
    assert len(splits.heldout) == round(total * 0.2)
    assert splits.train.dtype == torch.float32 and splits.train.shape[1:] == (1, 20, 20)
    images, factors = images_and_factors(splits)
    assert images.min() == 0.0 and images.max() == 1.0  # background, and fully covered pixels
    assert ((images > 0) & (images < 1)).any()  # anti-aliased edges
    assert factors.dtype == torch.int64 and factors.shape == (total, 5)
    # Every combination of factor values exactly once.
    assert torch.equal(torch.unique(factors, dim=0), all_factors(dataset.info.factor_sizes))


def test_every_combination_renders_a_distinct_image(splits):
    images, _ = images_and_factors(splits)
    assert len(torch.unique(images.reshape(len(images), -1), dim=0)) == len(images)


def test_the_centroid_follows_the_position_factors(splits):
    """Squares and ellipses are point-symmetric: their centroid is the declared centre."""
    images, factors = images_and_factors(splits)
    symmetric = factors[:, 0] < 2
    side, n = images.shape[-1], 8
    expected = (MAX_RADIUS + factors[:, 3:5] * (1 - 2 * MAX_RADIUS) / (n - 1)) * side - 0.5
    error = (centroid(images[symmetric]) - expected[symmetric]).abs()
    assert error.max() < 0.15  # pixels, from sampling each pixel at 4 x 4 points
    # Every shape moves right with x and down with y, by one step (1.43 pixels).
    step = (1 - 2 * MAX_RADIUS) / (n - 1) * side
    for axis, factor in ((0, 3), (1, 4)):
        moved = factors.clone()
        moved[:, factor] += 1
        keep = moved[:, factor] < n
        shift = centroid(render(moved[keep], ShapesParams())) - centroid(images[keep])
        assert (shift[:, axis] - step).abs().max() < 0.25
        assert (shift[:, axis].mean() - step).abs() < 0.01
        assert shift[:, 1 - axis].abs().max() < 0.25


def test_the_covered_area_grows_with_the_scale_factor(splits):
    images, factors = images_and_factors(splits)
    area = images.sum(dim=(1, 2, 3))
    for s in range(3):
        means = [area[(factors[:, 0] == s) & (factors[:, 1] == k)].mean() for k in range(5)]
        assert all(a < b for a, b in zip(means, means[1:], strict=False))
        ratio = means[-1] / means[0]
        assert 3.0 < ratio < 5.0  # radius doubles from scale 0.5 to 1: about 4 x the area


def test_rotation_indices_span_one_symmetry_period():
    """Index n_rotations (one period on) renders as index 0, and inside the period it differs."""
    p = ShapesParams(n_shapes=len(SHAPES), n_rotations=4)
    base = torch.tensor([[s, 4, 0, 3, 4] for s in range(len(SHAPES))])
    turned = base.clone()
    turned[:, 2] = p.n_rotations
    assert (render(base, p) - render(turned, p)).abs().max() < 0.07  # float rounding at edges
    half = base.clone()
    half[:, 2] = 2
    assert ((render(base, p) - render(half, p)).abs().amax(dim=(1, 2, 3)) > 0.5).all()


def test_loading_is_deterministic_and_the_seed_moves_only_the_split(dataset, splits):
    again = dataset.load()
    assert torch.equal(splits.train, again.train) and torch.equal(splits.heldout, again.heldout)
    assert torch.equal(splits.heldout_factors, again.heldout_factors)
    other = DATASETS.get("shapes")(ShapesParams(data_seed=1)).load()
    assert not torch.equal(splits.heldout_factors, other.heldout_factors)
    images, _ = images_and_factors(other)
    assert torch.equal(images.sum(0), images_and_factors(splits)[0].sum(0))  # the same images


def test_split_factors_label_their_own_images(splits):
    assert torch.equal(render(splits.heldout_factors, ShapesParams()), splits.heldout)
    assert torch.equal(render(splits.train_factors[:500], ShapesParams()), splits.train[:500])


def test_params_set_resolution_and_factor_counts():
    dataset = DATASETS.get("shapes")(SMALL)
    assert dataset.info.shape == (1, 16, 16)
    assert dataset.info.factor_sizes == (3, 2, 4, 4, 4)
    loaded = dataset.load()
    assert len(loaded.train) + len(loaded.heldout) == 3 * 2 * 4 * 4 * 4
    assert loaded.train.shape[1:] == (1, 16, 16)
    with pytest.raises(ValidationError):
        ShapesParams(n_shapes=5)
    with pytest.raises(ValidationError):
        ShapesParams(positions=4)  # unknown field


def test_split_carries_factors_and_stays_compatible():
    x = torch.arange(10.0)[:, None]
    factors = torch.arange(10)[:, None].repeat(1, 3)
    params = DatasetParams(heldout_fraction=0.3, data_seed=4)
    carried = split(x, None, params, factors=factors)
    assert torch.equal(carried.train_factors[:, 0], carried.train[:, 0].long())
    assert torch.equal(carried.heldout_factors[:, 2], carried.heldout[:, 0].long())
    plain = split(x, x[:, 0].long(), params)
    assert plain.train_factors is None and plain.heldout_factors is None
    assert torch.equal(plain.heldout, carried.heldout)  # factors do not change the split
