"""prdc against the `prdc` package (Naeem et al.'s reference code): identical values on several
shapes, seeds and k, with the reference radii prepared once or not, on float32 input, on sets
with duplicated points and on degenerate sets; each set prepared once for the three passes; and
its input checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from prdc import compute_prdc

from bench.metrics import MetricInputError
from bench.metrics.diversity import prdc, reference_radii
from bench.metrics.tiles import PointSet

KEYS = ("precision", "recall", "density", "coverage")


def package(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    """The package's values as floats (it prints the set sizes; pytest captures that)."""
    return {key: float(value) for key, value in compute_prdc(real, fake, k).items()}


def assert_identical(got: dict[str, float], expected: dict[str, float]) -> None:
    # Precision, recall and coverage are counts over the set size: equal exactly. Density is a
    # count too, divided as prdc divides it; exact equality is expected and asserted.
    assert {key: got[key] for key in KEYS} == {key: expected[key] for key in KEYS}


@pytest.mark.parametrize(
    ("n_real", "n_fake", "dim", "k", "seed"),
    [
        (200, 150, 16, 5, 0),
        (150, 230, 32, 3, 1),
        (240, 240, 8, 1, 2),
        (120, 90, 300, 10, 3),
        (300, 260, 2, 5, 4),
        (180, 180, 2048, 5, 5),
    ],
)
def test_prdc_equals_the_prdc_package(n_real: int, n_fake: int, dim: int, k: int, seed: int):
    gen = np.random.default_rng(seed)
    real = gen.normal(size=(n_real, dim))
    fake = gen.normal(size=(n_fake, dim)) * 1.1 + 0.2
    assert_identical(prdc(torch.from_numpy(real), fake, k), package(real, fake, k))


def test_prepared_reference_radii_give_the_same_values() -> None:
    gen = np.random.default_rng(6)
    real, fake = gen.normal(size=(220, 24)), gen.normal(size=(160, 24)) + 0.3
    radii = reference_radii(torch.from_numpy(real), 4)
    assert prdc(real, fake, 4, real_radii=radii) == prdc(real, fake, 4)
    assert_identical(prdc(real, fake, 4, real_radii=radii), package(real, fake, 4))
    with pytest.raises(ValueError, match="one radius per row"):
        prdc(real, fake, 4, real_radii=radii[:-1])


def test_float32_features_give_the_package_values_on_the_same_numbers() -> None:
    gen = np.random.default_rng(7)
    real = gen.normal(size=(200, 64)).astype(np.float32)
    fake = (gen.normal(size=(170, 64)) + 0.1).astype(np.float32)
    expected = package(real.astype(np.float64), fake.astype(np.float64), 5)
    assert_identical(prdc(real, fake, 5), expected)


def test_duplicated_points_and_far_offsets() -> None:
    # Exact duplicates sit at distance 0 (radii of 0 where k copies exist), far from the origin.
    gen = np.random.default_rng(8)
    base = gen.normal(size=(40, 6))
    real = np.concatenate([np.repeat(base, 3, axis=0), gen.normal(size=(30, 6))]) + 1e3
    fake = np.concatenate([base[:25], gen.normal(size=(60, 6))]) + 1e3
    for k in (1, 2, 3):
        assert_identical(prdc(real, fake, k), package(real, fake, k))


def test_degenerate_sets() -> None:
    # All real points equal: every radius is 0 and no ball holds anything (strict <).
    real = np.ones((20, 3))
    fake = np.random.default_rng(9).normal(size=(25, 3))
    assert_identical(prdc(real, fake, 3), package(real, fake, 3))
    # Identical sets: every point lies in its own ball.
    values = prdc(fake, fake.copy(), 3)
    assert values["precision"] == values["recall"] == values["coverage"] == 1.0
    assert_identical(values, package(fake, fake.copy(), 3))
    # The smallest sets the package accepts (k + 2 rows; bench needs k + 1).
    gen = np.random.default_rng(10)
    real, fake = gen.normal(size=(7, 4)), gen.normal(size=(7, 4))
    assert_identical(prdc(real, fake, 5), package(real, fake, 5))
    # With k + 1 rows each radius is the distance to the farthest other row: real radii 2, 1,
    # 2; generated radii 1, 1, 0.5; every generated point lies in all three real balls.
    values = prdc(np.array([[0.0], [1.0], [2.0]]), np.array([[0.5], [1.5], [1.0]]), 2)
    assert values == {"precision": 1.0, "recall": 1.0, "density": 1.5, "coverage": 1.0}


def test_prdc_needs_more_than_k_samples() -> None:
    gen = np.random.default_rng(11)
    with pytest.raises(MetricInputError, match=r"prdc: generated features need >= 6 rows"):
        prdc(gen.normal(size=(20, 3)), gen.normal(size=(5, 3)), k=5)
    with pytest.raises(MetricInputError, match="k must be >= 1"):
        prdc(gen.normal(size=(20, 3)), gen.normal(size=(20, 3)), k=0)


def test_prdc_prepares_each_set_once_for_its_three_passes(monkeypatch) -> None:
    prepared = []
    original = PointSet.of.__func__

    def counting(cls, data, **kwargs):
        prepared.append(len(data))
        return original(cls, data, **kwargs)

    monkeypatch.setattr(PointSet, "of", classmethod(counting))
    gen = np.random.default_rng(12)
    prdc(gen.normal(size=(120, 8)), gen.normal(size=(100, 8)), 3)
    assert sorted(prepared) == [100, 120]
