"""Memorization measures against references: the Mann–Whitney Z against scipy.stats, C_T
against its definition on constructed cells, and nn_distance_ratio, copy_fraction,
authenticity and C_T on constructed copying / non-copying cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.spatial.distance
import scipy.stats
import torch

from bench.metrics.memorization import data_copying_ct, mann_whitney_z, memorization


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def mixture(n: int, centres: np.ndarray, gen: np.random.Generator) -> np.ndarray:
    """Unit-variance Gaussian mixture around `centres`."""
    return centres[gen.choice(len(centres), size=n)] + gen.normal(size=(n, centres.shape[1]))


def test_mann_whitney_z_matches_scipy() -> None:
    gen = rng(11)
    x, y = gen.normal(size=120), gen.normal(size=90) + 0.4
    z = mann_whitney_z(x, y)
    result = scipy.stats.mannwhitneyu(x, y, alternative="less", method="asymptotic")
    # No ties: scipy's one-sided asymptotic test with continuity correction is this Z exactly.
    assert z == pytest.approx(scipy.stats.norm.ppf(result.pvalue), rel=1e-9)
    assert z < -2  # x is stochastically smaller
    # With ties, U itself still equals scipy's statistic (ties count one half).
    a, b = np.array([1.0, 2.0, 2.0, 3.0]), np.array([2.0, 3.0, 3.0, 0.5, 4.0])
    u = mann_whitney_z(a, b) * math.sqrt(4 * 5 * 10 / 12) + 4 * 5 / 2 - 0.5
    assert u == pytest.approx(scipy.stats.mannwhitneyu(a, b).statistic)


def test_ct_with_one_cell_is_the_global_mann_whitney_z() -> None:
    gen = rng(12)
    train, fake, held = (
        gen.normal(size=(300, 4)),
        gen.normal(size=(200, 4)),
        gen.normal(size=(150, 4)),
    )
    d_fake = scipy.spatial.distance.cdist(fake, train).min(axis=1)
    d_held = scipy.spatial.distance.cdist(held, train).min(axis=1)
    expected = mann_whitney_z(d_fake, d_held)
    t = [torch.from_numpy(a) for a in (train, fake, held)]
    assert data_copying_ct(*t, cells=1) == pytest.approx(expected, rel=1e-12)


def test_ct_weights_cells_by_held_out_share_and_skips_thin_cells() -> None:
    # Two far-apart clusters = two cells. Cell A gets copies (strongly negative Z), cell B
    # fresh draws; held-out shares 1/3 and 2/3 weight them. A third cluster with only 5
    # generated samples stays below tau = 20/m and is ignored.
    gen = rng(13)
    centres = np.array([[0.0] * 3, [100.0] * 3, [-100.0] * 3])
    trains = [gen.normal(size=(200, 3)) + c for c in centres]
    helds = [gen.normal(size=(n, 3)) + c for n, c in zip((50, 100, 30), centres, strict=True)]
    fakes = [
        trains[0][:80] + 1e-3 * gen.normal(size=(80, 3)),
        gen.normal(size=(120, 3)) + centres[1],
        gen.normal(size=(5, 3)) + centres[2],
    ]

    def cell_z(i: int) -> float:
        lq = scipy.spatial.distance.cdist(fakes[i], trains[i]).min(axis=1)
        lp = scipy.spatial.distance.cdist(helds[i], trains[i]).min(axis=1)
        return mann_whitney_z(lq, lp)

    share = np.array([50, 100]) / 180
    expected = (share[0] * cell_z(0) + share[1] * cell_z(1)) / share.sum()
    t = [torch.from_numpy(np.concatenate(parts)) for parts in (trains, fakes, helds)]
    assert data_copying_ct(*t, cells=3) == pytest.approx(expected, rel=1e-9)
    assert cell_z(0) < -5


@pytest.fixture(scope="module")
def copying_case() -> dict[str, np.ndarray]:
    gen = rng(14)
    centres = gen.normal(size=(6, 10)) * 4
    train = mixture(1500, centres, gen)
    return {
        "train": train,
        "heldout": mixture(800, centres, gen),
        "fresh": mixture(800, centres, gen),
        "copies": train[gen.choice(len(train), 800, replace=False)],
        "near_copies": train[gen.choice(len(train), 800)] + 0.01 * gen.normal(size=(800, 10)),
    }


@pytest.mark.parametrize("which", ["copies", "near_copies"])
def test_memorization_flags_copies(copying_case, which: str) -> None:
    c = copying_case
    values = memorization(c["train"], c[which], c["heldout"], cells=8)
    assert values["nn_distance_ratio"] < 0.05
    assert values["copy_fraction"] > 0.9
    assert values["authenticity"] < 0.05
    assert values["ct"] < -5


def test_memorization_passes_fresh_draws(copying_case) -> None:
    c = copying_case
    values = memorization(c["train"], c["fresh"], c["heldout"], cells=8)
    assert 0.85 < values["nn_distance_ratio"] < 1.15
    assert values["copy_fraction"] < 0.04  # ~0.01 by construction
    assert values["authenticity"] > 0.5
    assert values["ct"] > -2.5


def test_authenticity_follows_the_definition() -> None:
    # Training points 0 and 10 apart (each one's nearest other is at 10).
    train = torch.tensor([[0.0], [10.0], [30.0]], dtype=torch.float64)
    held = torch.tensor([[4.0], [16.0], [22.0], [37.0]], dtype=torch.float64)
    fake = torch.tensor([[1.0], [9.0], [25.0], [-12.0]], dtype=torch.float64)
    # fake 1.0 -> train 0 at 1 < 10: inauthentic; 9.0 -> train 10 at 1 < 10: inauthentic;
    # 25 -> train 30 at 5 < 20 (30's nearest other is 10, at 20): inauthentic; -12 -> train 0
    # at 12 > 10: authentic.
    values = memorization(train, fake, held, cells=1, tau=0.0)
    assert values["authenticity"] == 0.25
