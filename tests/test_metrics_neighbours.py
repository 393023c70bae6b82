"""Nearest-neighbour metrics against references: prdc against the `prdc` package, the chunked
primitives against brute-force scipy distances, NDB's JS against scipy, the Mann–Whitney Z
against scipy.stats, and memorization measures on constructed copying / non-copying cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.spatial.distance
import scipy.stats
import torch
from prdc import compute_prdc

from bench.data import DATASETS
from bench.metrics import METRICS, EvalInputs, Features, MetricInputError
from bench.metrics import diversity as diversity_module
from bench.metrics.diversity import bin_counts, fit_bins, jensen_shannon, ndb, prdc
from bench.metrics.memorization import data_copying_ct, mann_whitney_z, memorization
from bench.metrics.neighbours import (
    ball_counts,
    fingerprint,
    k_nearest,
    kth_neighbour_distances,
    nearest,
)

PRDC_KEYS = ("precision", "recall", "density", "coverage")


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def sorted_distances(x: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
    """Brute force: every distance, each row sorted; self excluded when y is None."""
    d = scipy.spatial.distance.cdist(x, x if y is None else y)
    if y is None:
        np.fill_diagonal(d, np.inf)
    return np.sort(d, axis=1)


def mixture(n: int, centres: np.ndarray, gen: np.random.Generator, skip: int | None = None):
    """Unit-variance Gaussian mixture around `centres`, optionally missing component `skip`."""
    allowed = [i for i in range(len(centres)) if i != skip]
    which = gen.choice(allowed, size=n)
    return centres[which] + gen.normal(size=(n, centres.shape[1]))


# ---------------------------------------------------------------------------- prdc


@pytest.mark.parametrize(
    ("n_real", "n_fake", "dim", "k"),
    [(200, 150, 16, 5), (150, 230, 32, 3), (240, 240, 8, 1), (120, 90, 300, 10)],
)
def test_prdc_equals_the_prdc_package(n_real: int, n_fake: int, dim: int, k: int) -> None:
    gen = rng(n_real + k)
    real = gen.normal(size=(n_real, dim))
    fake = gen.normal(size=(n_fake, dim)) * 1.1 + 0.2
    expected = compute_prdc(real, fake, k)
    got = prdc(torch.from_numpy(real), fake, k)
    for key in PRDC_KEYS:
        assert got[key] == pytest.approx(float(expected[key]), rel=1e-12, abs=1e-12), key


def test_prdc_of_a_set_with_itself_is_perfect_fidelity() -> None:
    x = rng(1).normal(size=(100, 5))
    values = prdc(x, x.copy(), k=3)
    # Each point lies inside its own ball (distance 0 < radius): precision/coverage are 1.
    assert values["precision"] == 1.0
    assert values["coverage"] == 1.0
    assert values["recall"] == 1.0


# ---------------------------------------------------------------------------- primitives


@pytest.mark.parametrize("block", [7, 64, 4096])
def test_k_nearest_equals_brute_force(block: int) -> None:
    gen = rng(2)
    x, y = gen.normal(size=(83, 12)), gen.normal(size=(61, 12))
    dist, idx = k_nearest(torch.from_numpy(x), 4, torch.from_numpy(y), block=block)
    brute = sorted_distances(x, y)[:, :4]
    np.testing.assert_allclose(dist.numpy(), brute, rtol=1e-12)
    # The returned indices point at rows with those distances.
    picked = np.linalg.norm(x[:, None, :] - y[idx.numpy()], axis=2)
    np.testing.assert_allclose(picked, brute, rtol=1e-12)


@pytest.mark.parametrize("block", [5, 32])
def test_self_neighbours_equal_brute_force(block: int) -> None:
    x = rng(3).normal(size=(70, 9))
    brute = sorted_distances(x)
    for k in (1, 3, 10):
        got = kth_neighbour_distances(torch.from_numpy(x), k, block=block)
        np.testing.assert_allclose(got.numpy(), brute[:, k - 1], rtol=1e-12)
    dist, _ = k_nearest(torch.from_numpy(x), 6, block=block)
    np.testing.assert_allclose(dist.numpy(), brute[:, :6], rtol=1e-12)
    # Including self, the k-th neighbour is the (k-1)-th other one (self sits at 0).
    incl = kth_neighbour_distances(torch.from_numpy(x), 4, exclude_self=False, block=block)
    np.testing.assert_allclose(incl.numpy(), brute[:, 2], rtol=1e-12)


def test_nearest_equals_brute_force_far_from_the_origin() -> None:
    # Large offsets make |x|^2 huge next to the distances; centring keeps the screen useful
    # and the exact recomputation keeps the answer right.
    gen = rng(4)
    x = gen.normal(size=(50, 6)) + 1e4
    y = gen.normal(size=(40, 6)) + 1e4
    dist, idx = nearest(torch.from_numpy(x), torch.from_numpy(y), block=16)
    d = scipy.spatial.distance.cdist(x, y)
    np.testing.assert_allclose(dist.numpy(), d.min(axis=1), rtol=1e-9)
    assert (idx.numpy() == d.argmin(axis=1)).all()


def test_duplicates_are_neighbours_at_distance_zero() -> None:
    # 15 copies of each of 12 points: more near-ties than the screen keeps as candidates, so
    # the exhaustive float64 fallback has to answer; excluding self is by index, not value.
    gen = rng(5)
    x = np.concatenate([np.repeat(gen.normal(size=(12, 8)), 15, axis=0), gen.normal(size=(9, 8))])
    brute = sorted_distances(x)
    for k in (1, 5, 14, 16):
        got = kth_neighbour_distances(torch.from_numpy(x), k, block=32)
        np.testing.assert_array_equal(got.numpy(), brute[:, k - 1])
        dist, _ = k_nearest(torch.from_numpy(x), k, block=32)
        np.testing.assert_allclose(dist.numpy(), brute[:, :k], atol=1e-15)


def test_ball_counts_equal_brute_force() -> None:
    gen = rng(6)
    x, y = gen.normal(size=(57, 5)), gen.normal(size=(43, 5))
    rx, ry = gen.uniform(0.5, 2.0, size=57), gen.uniform(0.5, 2.0, size=43)
    d = scipy.spatial.distance.cdist(x, y)
    counts = ball_counts(torch.from_numpy(x), torch.from_numpy(y), rx, ry, block=8)
    np.testing.assert_array_equal(counts.y_in_x_balls.numpy(), (d < rx[:, None]).sum(axis=0))
    np.testing.assert_array_equal(counts.x_balls_hit.numpy(), (d < rx[:, None]).sum(axis=1))
    assert counts.x_in_y_balls is not None
    np.testing.assert_array_equal(counts.x_in_y_balls.numpy(), (d < ry[None, :]).sum(axis=1))


def test_ball_counts_are_strict_at_the_radius() -> None:
    # Points exactly on a ball's boundary are outside (d < r), as in prdc.
    x = torch.zeros(1, 2, dtype=torch.float64)
    y = torch.tensor([[3.0, 4.0], [0.0, 4.999999], [6.0, 0.0]], dtype=torch.float64)
    counts = ball_counts(x, y, torch.tensor([5.0]))
    assert counts.y_in_x_balls.tolist() == [0, 1, 0]


def test_fingerprint_follows_content() -> None:
    x = torch.randn(20, 3, dtype=torch.float64)
    same = x.clone()
    changed = x.clone()
    changed[7, 1] += 1e-12
    assert fingerprint(x, 5) == fingerprint(same, 5)
    assert fingerprint(x, 5) != fingerprint(changed, 5)
    assert fingerprint(x, 5) != fingerprint(x, 6)
    assert fingerprint(x) != fingerprint(x.float())


# ---------------------------------------------------------------------------- ndb


CENTRES = np.array([[0.0, 0.0], [12.0, 0.0], [0.0, 12.0], [12.0, 12.0], [6.0, 24.0]])


def test_ndb_same_distribution_has_few_different_bins() -> None:
    gen = rng(7)
    train, fake = mixture(3000, CENTRES, gen), mixture(3000, CENTRES, gen)
    values = ndb(train, fake, bins=20, seed=0)
    assert values["ndb_over_k"] <= 0.2  # alpha = 0.05: about one false alarm in 20 bins
    assert values["ndb"] == values["ndb_over_k"] * 20
    assert values["js"] < 0.01


def test_ndb_flags_a_missing_cluster() -> None:
    gen = rng(8)
    train = mixture(3000, CENTRES, gen)
    same = ndb(train, mixture(3000, CENTRES, gen), bins=20)
    missing = ndb(train, mixture(3000, CENTRES, gen, skip=0), bins=20)
    # Every bin of the missing cluster is empty in the fake set, hence different.
    bins = fit_bins(torch.from_numpy(train), 20, 0)
    empty_bins = int((torch.linalg.norm(bins.centres - torch.tensor(CENTRES[0]), dim=1) < 5).sum())
    assert empty_bins >= 1
    assert missing["ndb"] >= empty_bins
    assert missing["ndb"] > same["ndb"]
    assert missing["js"] > 10 * same["js"]


def test_ndb_js_is_scipy_jensen_shannon_of_the_bin_histograms() -> None:
    gen = rng(9)
    train, fake = mixture(2000, CENTRES, gen), mixture(1500, CENTRES, gen, skip=2)
    values = ndb(train, fake, bins=12, seed=3)
    bins = fit_bins(torch.from_numpy(train), 12, 3)
    p = bins.counts.numpy() / len(train)
    q = bin_counts(torch.from_numpy(fake), bins.centres).numpy() / len(fake)
    expected = scipy.spatial.distance.jensenshannon(p, q) ** 2
    assert values["js"] == pytest.approx(expected, rel=1e-9)


def test_jensen_shannon_matches_scipy_with_empty_bins() -> None:
    p = np.array([0.5, 0.25, 0.25, 0.0, 0.0])
    q = np.array([0.0, 0.1, 0.3, 0.4, 0.2])
    assert jensen_shannon(p, q) == pytest.approx(scipy.spatial.distance.jensenshannon(p, q) ** 2)
    assert jensen_shannon(p, p) == 0.0
    # Disjoint supports: the maximum, log 2 nats.
    assert jensen_shannon([1, 0], [0, 1]) == pytest.approx(math.log(2))


def test_ndb_bins_are_fitted_once_per_reference_set(monkeypatch) -> None:
    calls = []
    original = diversity_module.kmeans_centres

    def counting(x, clusters, seed):
        calls.append(clusters)
        return original(x, clusters, seed)

    monkeypatch.setattr(diversity_module, "kmeans_centres", counting)
    diversity_module.MEMO.clear()
    gen = rng(10)
    train = mixture(500, CENTRES, gen)
    fake = mixture(400, CENTRES, gen)
    first = ndb(train, fake, bins=8)
    assert ndb(train.copy(), fake, bins=8) == first  # same content, new array: memoised
    assert calls == [8]
    ndb(train, fake, bins=9)
    assert calls == [8, 9]
    diversity_module.MEMO.clear()
    assert ndb(train, fake, bins=8) == first  # refitted under the same seed: same bins
    assert calls == [8, 9, 8]


# ---------------------------------------------------------------------------- memorization


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


# ---------------------------------------------------------------------------- bad inputs


def _finite(n: int, d: int = 3) -> np.ndarray:
    return rng(n).normal(size=(n, d))


def _calls():
    return {
        "prdc": lambda a, b: prdc(a, b, k=3),
        "ndb": lambda a, b: ndb(a, b, bins=2),
        "memorization": lambda a, b: memorization(
            a, b, _finite(10, a.shape[1] if a.ndim == 2 else 3), cells=2
        ),
    }


@pytest.mark.parametrize("metric", ["prdc", "ndb", "memorization"])
@pytest.mark.parametrize(
    ("real", "fake", "problem"),
    [
        (np.zeros((0, 3)), _finite(10), "rows"),
        (_finite(10), np.zeros((0, 3)), "rows"),
        (_finite(10), _finite(10, 4), "widths differ"),
        (_finite(10), np.full((10, 3), np.nan), "NaN or inf"),
        (np.concatenate([_finite(9), [[1.0, np.inf, 0.0]]]), _finite(10), "NaN or inf"),
        (_finite(10).reshape(-1), _finite(10), "2-D"),
    ],
)
def test_bad_inputs_raise_metric_input_errors(metric, real, fake, problem) -> None:
    with pytest.raises(MetricInputError, match=problem) as caught:
        _calls()[metric](real, fake)
    assert str(caught.value).startswith(metric)


def test_prdc_needs_more_than_k_samples() -> None:
    with pytest.raises(MetricInputError, match=r"prdc: generated features need >= 6 rows"):
        prdc(_finite(20), _finite(5), k=5)
    with pytest.raises(MetricInputError, match="k must be >= 1"):
        prdc(_finite(20), _finite(20), k=0)


def test_ndb_needs_at_least_one_training_sample_per_bin() -> None:
    with pytest.raises(MetricInputError, match=r"ndb: training features need >= 50 rows"):
        ndb(_finite(20), _finite(20), bins=50)


# ---------------------------------------------------------------------------- registered


def eval_inputs(heldout: bool = True) -> EvalInputs:
    dataset = DATASETS.get("ring8")()
    gen = rng(15)
    centres = gen.normal(size=(4, 6)) * 3

    def feats(n: int) -> Features:
        return Features(features=torch.from_numpy(mixture(n, centres, gen)))

    return EvalInputs(
        samples=torch.zeros(400, 2),
        fake=feats(400),
        real=feats(400),
        spec=dataset.eval_spec,
        info=dataset.info,
        heldout=feats(300) if heldout else None,
    )


@pytest.mark.parametrize("name", ["prdc", "ndb", "memorization"])
def test_registered_metrics_compute_every_declared_key(name: str) -> None:
    metric = METRICS.get(name)
    inputs = eval_inputs()
    assert metric.applies(inputs.spec, inputs.info) is None
    values = metric.compute(inputs)
    assert set(values) == set(metric.directions)
    assert all(math.isfinite(v) for v in values.values())


def test_registered_keys_do_not_collide_with_other_metrics() -> None:
    ours = {"prdc", "ndb", "memorization"}
    mine = [key for name in ours for key in METRICS.get(name).directions]
    assert len(mine) == len(set(mine))
    others = {key for name, metric in METRICS if name not in ours for key in metric.directions}
    assert not others & set(mine)


def test_memorization_without_held_out_split_is_not_computable() -> None:
    with pytest.raises(MetricInputError, match="memorization: needs the held-out"):
        METRICS.get("memorization").compute(eval_inputs(heldout=False))


def test_registered_ndb_refuses_tiny_reference_sets() -> None:
    inputs = eval_inputs()
    inputs.real = Features(features=inputs.real.features[:30])
    with pytest.raises(MetricInputError, match="ndb: 30 reference samples"):
        METRICS.get("ndb").compute(inputs)


# ---------------------------------------------------------------------------- GPU


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_gives_the_cpu_values() -> None:
    gen = rng(16)
    real, fake = gen.normal(size=(300, 64)), gen.normal(size=(250, 64))
    assert prdc(real, fake, device="cuda") == prdc(real, fake, device="cpu")
    c = torch.from_numpy(real)
    cpu = kth_neighbour_distances(c, 3)
    gpu = kth_neighbour_distances(c.cuda(), 3)
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-12, atol=0)
