"""Nearest-neighbour metrics against references (prdc against the `prdc` package is in
tests/metrics/test_prdc.py): the chunked primitives against brute-force scipy distances, also
on prepared point sets, NDB's JS against scipy, the input checks of prdc, NDB and
memorization, and the reference-side work of the registered metrics done once in `prepare`
(memorization's maths is in tests/metrics/test_memorization.py)."""

from __future__ import annotations

import importlib
import math

import numpy as np
import pytest
import scipy.spatial.distance
import scipy.stats
import torch

from bench.data import DATASETS
from bench.metrics import METRICS, EvalInputs, Features, MetricInputError
from bench.metrics import diversity as diversity_module
from bench.metrics.diversity import bin_counts, fit_bins, jensen_shannon, ndb, prdc
from bench.metrics.memorization import memorization
from bench.metrics.neighbours import ball_counts, k_nearest, kth_neighbour_distances, nearest
from bench.metrics.tiles import PointSet

# The package exports the function `memorization` under the module's name.
memorization_module = importlib.import_module("bench.metrics.memorization")


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


def test_prepared_point_sets_give_the_same_answers() -> None:
    # One set prepared once and shared by several passes, the other prepared like it.
    gen = rng(17)
    x, y = (torch.from_numpy(a) for a in (gen.normal(size=(90, 7)) + 3, gen.normal(size=(70, 7))))
    xs = PointSet.of(x)
    ys = PointSet.of(y, like=xs)
    assert torch.equal(kth_neighbour_distances(xs, 3, block=16), kth_neighbour_distances(x, 3))
    expected = nearest(x, y)
    for a, b in ((xs, ys), (x, ys), (xs, y)):
        dist, idx = nearest(a, b, block=16)
        assert torch.equal(dist, expected[0]) and torch.equal(idx, expected[1])
    r = kth_neighbour_distances(xs, 2)
    shared, fresh = ball_counts(xs, ys, r), ball_counts(x, y, r)
    assert torch.equal(shared.y_in_x_balls, fresh.y_in_x_balls)
    assert torch.equal(shared.x_balls_hit, fresh.x_balls_hit)


def test_point_sets_centred_apart_are_refused() -> None:
    x, y = (torch.from_numpy(rng(18).normal(size=(20, 3)) + shift) for shift in (0, 5))
    with pytest.raises(ValueError, match="share a shift"):
        nearest(PointSet.of(x), PointSet.of(y))


def test_point_set_screen_is_the_centred_float32_copy() -> None:
    x = torch.from_numpy(rng(19).normal(size=(30, 4)) * 10 + 100)
    xs = PointSet.of(x)
    centred = x - x.mean(dim=0)
    torch.testing.assert_close(xs.shift, x.mean(dim=0), rtol=1e-15, atol=0)
    assert xs.screen.dtype == torch.float32 and torch.equal(xs.screen, centred.float())
    torch.testing.assert_close(xs.sq_norms, (centred**2).sum(dim=1), rtol=1e-13, atol=0)
    assert xs.data is x  # the original values are kept, not copied


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


def test_registered_ndb_fits_its_bins_once_in_prepare(monkeypatch) -> None:
    calls = []
    original = diversity_module.kmeans_centres

    def counting(x, clusters, seed):
        calls.append(clusters)
        return original(x, clusters, seed)

    monkeypatch.setattr(diversity_module, "kmeans_centres", counting)
    inputs = eval_inputs()
    metric = METRICS.get("ndb")
    prepared = metric.prepare(inputs.real)
    assert calls == [20]  # 400 reference samples: 20 bins of 20
    first = metric.compute(inputs, prepared)
    assert metric.compute(inputs, prepared) == first
    assert calls == [20]  # compute() reused the bins
    assert metric.compute(inputs) == first  # without prepare: refitted, same seed, same bins
    assert calls == [20, 20]


def test_ndb_refuses_bins_fitted_elsewhere() -> None:
    gen = rng(10)
    train, fake = mixture(500, CENTRES, gen), mixture(400, CENTRES, gen)
    fitted = fit_bins(torch.from_numpy(train), 8, 0)
    assert ndb(train, fake, bins=8, fitted=fitted) == ndb(train, fake, bins=8)
    with pytest.raises(ValueError, match="fitted bins"):
        ndb(train, fake, bins=9, fitted=fitted)


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


@pytest.mark.parametrize("name", ["prdc", "ndb", "memorization"])
def test_registered_metrics_give_the_same_values_with_prepared_reference_work(name) -> None:
    metric = METRICS.get(name)
    inputs = eval_inputs()
    prepared = metric.prepare(inputs.real)
    assert prepared is not None
    assert metric.compute(inputs, prepared) == metric.compute(inputs)


def test_memorization_prepares_the_training_neighbours_and_cells(monkeypatch) -> None:
    calls = []
    original = memorization_module.fit_bins

    def counting(train, cells, seed, device=None):
        calls.append(cells)
        return original(train, cells, seed, device)

    monkeypatch.setattr(memorization_module, "fit_bins", counting)
    inputs = eval_inputs()
    metric = METRICS.get("memorization")
    prepared = metric.prepare(inputs.real)
    assert calls == [20]  # 400 training samples allow all 20 cells
    torch.testing.assert_close(
        prepared.nn_distances, kth_neighbour_distances(inputs.real.features, 1), rtol=0, atol=0
    )
    metric.compute(inputs, prepared)  # 400 generated, 300 held-out: 10 cells, refitted
    assert calls == [20, 10]
    inputs.fake = Features(features=torch.cat([inputs.fake.features] * 2))
    metric.compute(inputs, prepared)  # 800 generated, 300 held-out: 15 cells
    inputs.heldout = Features(features=torch.cat([inputs.heldout.features] * 2))
    metric.compute(inputs, prepared)  # 800 and 600: 20 cells, the prepared ones
    assert calls == [20, 10, 15]


def test_prepare_leaves_unusable_references_to_compute() -> None:
    inputs = eval_inputs()
    inputs.real = Features(features=torch.full((400, 6), float("nan"), dtype=torch.float64))
    for name in ("prdc", "ndb", "memorization"):
        metric = METRICS.get(name)
        assert metric.prepare(inputs.real) is None
        with pytest.raises(MetricInputError, match="NaN or inf"):
            metric.compute(inputs, None)
    assert METRICS.get("ndb").prepare(Features(features=inputs.real.features[:30])) is None


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
