"""KID against torch-fidelity's `kid_features_to_metric`: the same subsets, drawn index for index,
and the same values to float64 round-off on every route bench takes (explicit feature map, Gram
tiles, per-subset blocks), for several shapes, seeds and kernels, with the subset size clamped
where torch-fidelity refuses, and on degenerate inputs; plus an independent MMD² formula and
the input checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch_fidelity.metric_kid as tf_kid

from bench.data import DATASETS
from bench.metrics import METRICS, EvalInputs, Features, MetricInputError, kid
from bench.metrics import fidelity as fidelity_module
from bench.metrics.fidelity import KidSets, PolynomialKernel, kid_subsets

RING8 = DATASETS.get("ring8")()
TF_NAMES = {
    "subsets": "kid_subsets",
    "subset_size": "kid_subset_size",
    "degree": "kid_kernel_poly_degree",
    "gamma": "kid_kernel_poly_gamma",
    "coef0": "kid_kernel_poly_coef0",
    "seed": "rng_seed",
}
ROUTES = ("_sums_by_feature_map", "_sums_by_gram", "_sums_by_subset")


def randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def torch_fidelity_kid(real: torch.Tensor, fake: torch.Tensor, **kwargs) -> tuple[float, float]:
    tf_kwargs = {TF_NAMES[key]: value for key, value in kwargs.items()}
    out = tf_kid.kid_features_to_metric(real, fake, verbose=False, **tf_kwargs)
    return out[tf_kid.KEY_METRIC_KID_MEAN], out[tf_kid.KEY_METRIC_KID_STD]


def assert_same(got: tuple[float, float], expected: tuple[float, float]) -> None:
    """Equal to round-off: sums in another order differ by ~1e-15 of the kernel's scale, so
    the std (which may be the round-off of an exact 0) is compared at the scale of the KID."""
    scale = max(abs(expected[0]), 1e-6)
    assert got[0] == pytest.approx(expected[0], rel=1e-9, abs=1e-12)
    assert got[1] == pytest.approx(expected[1], rel=1e-9, abs=1e-9 * scale)


def route_taken(monkeypatch: pytest.MonkeyPatch, call) -> str:
    """Which of the routes a call of kid takes (each route still runs)."""
    taken = []
    for name in ROUTES:
        original = getattr(fidelity_module, name)

        def recording(*args, _name=name, _original=original):
            taken.append(_name)
            return _original(*args)

        monkeypatch.setattr(fidelity_module, name, recording)
    call()
    (route,) = taken
    return route


CASES = [  # (n real, n generated, d, kwargs, the route bench takes)
    (300, 250, 2, {"subsets": 20, "subset_size": 100}, "_sums_by_feature_map"),
    (300, 250, 16, {"subsets": 20, "subset_size": 100, "seed": 7}, "_sums_by_gram"),
    (260, 240, 3, {"subsets": 7, "subset_size": 50, "degree": 2, "gamma": 0.3, "coef0": 0.5},
     "_sums_by_feature_map"),
    (220, 230, 40, {"subsets": 20, "subset_size": 60, "degree": 4, "coef0": -0.7},
     "_sums_by_gram"),
    (1500, 1200, 24, {"subsets": 12, "subset_size": 80, "seed": 11}, "_sums_by_subset"),
    (900, 800, 2, {"subsets": 5, "subset_size": 700, "degree": 1, "coef0": 0.0},
     "_sums_by_feature_map"),
]  # fmt: skip


@pytest.mark.parametrize(("n_real", "n_fake", "dim", "kwargs", "route"), CASES)
def test_kid_is_torch_fidelity(n_real, n_fake, dim, kwargs, route, monkeypatch) -> None:
    real, fake = randn(n_real, dim, seed=n_real), randn(n_fake, dim, seed=n_fake) + 0.3
    expected = torch_fidelity_kid(real, fake, **kwargs)
    got = kid(real, fake, **kwargs)
    assert_same(got, expected)
    assert abs(got[0]) > 1e-4 and got[1] > 0
    assert route_taken(monkeypatch, lambda: kid(real, fake, **kwargs)) == route


def test_fractional_degree_takes_the_gram_route_and_numpy_power() -> None:
    real, fake = randn(200, 5, seed=1).abs(), randn(180, 5, seed=2).abs() + 0.2
    kwargs = {"subsets": 10, "subset_size": 90, "degree": 2.5}
    assert_same(kid(real, fake, **kwargs), torch_fidelity_kid(real, fake, **kwargs))


def test_kid_draws_torch_fidelitys_subsets(monkeypatch) -> None:
    # Features whose first column is the row index reveal which rows each subset holds.
    drawn = []

    def recording(f1: np.ndarray, f2: np.ndarray, **kwargs) -> float:
        drawn.append((f1[:, 0].astype(int), f2[:, 0].astype(int)))
        return 0.0

    monkeypatch.setattr(tf_kid, "kernel_mmd", recording)
    real = torch.arange(70, dtype=torch.float64)[:, None].repeat(1, 2)
    fake = torch.arange(90, dtype=torch.float64)[:, None].repeat(1, 2)
    tf_kid.kid_features_to_metric(
        real, fake, kid_subsets=6, kid_subset_size=40, rng_seed=5, verbose=False
    )
    rows_real, rows_fake = kid_subsets(70, 90, subsets=6, size=40, seed=5)
    assert [r.tolist() for r, _ in drawn] == rows_real.tolist()
    assert [f.tolist() for _, f in drawn] == rows_fake.tolist()


def test_the_three_routes_give_the_same_sums() -> None:
    real, fake = randn(130, 3, seed=4), randn(110, 3, seed=5) * 2
    rows = kid_subsets(130, 110, subsets=6, size=50, seed=1)
    kernel = PolynomialKernel(3, 0.4, 1.0)
    sums = [
        torch.stack(getattr(fidelity_module, name)(KidSets(real, fake, *rows, kernel)))
        for name in ROUTES
    ]
    for other in sums[1:]:
        torch.testing.assert_close(other, sums[0], rtol=1e-13, atol=0)


def test_kid_clamps_the_subset_size_where_torch_fidelity_refuses() -> None:
    real, fake = randn(120, 8, seed=3), randn(80, 8, seed=4) + 0.5
    with pytest.raises(Exception, match="subset size"):  # torch-fidelity's own behaviour
        torch_fidelity_kid(real, fake, subset_size=1000)
    assert_same(kid(real, fake), torch_fidelity_kid(real, fake, subset_size=80))


def reference_mmd2(x: np.ndarray, y: np.ndarray, degree: int = 3, coef0: float = 1.0) -> float:
    """The unbiased MMD² with the polynomial kernel, written independently of torch-fidelity."""
    gamma = 1.0 / x.shape[1]
    m = len(x)

    def k(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (gamma * a @ b.T + coef0) ** degree

    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    off = ~np.eye(m, dtype=bool)
    return float(kxx[off].mean() + kyy[off].mean() - 2 * kxy.mean())


@pytest.mark.parametrize("dim", [5, 64])
def test_kid_matches_the_mmd_formula_on_whole_sets(dim: int) -> None:
    # One subset as large as both sets is a permutation of each, and MMD² ignores order.
    real, fake = randn(60, dim, seed=5), randn(60, dim, seed=6) * 1.5
    mean, std = kid(real, fake, subsets=1, subset_size=60)
    assert mean == pytest.approx(reference_mmd2(real.numpy(), fake.numpy()), rel=1e-9)
    assert std == 0.0


def test_kid_near_zero_for_one_distribution() -> None:
    same, other = kid(randn(400, 8, seed=7), randn(400, 8, seed=8), subsets=20, subset_size=200)
    shifted, _ = kid(randn(400, 8, seed=7), randn(400, 8, seed=8) + 1, subsets=20, subset_size=200)
    assert abs(same) < 3 * other + 1e-3 and shifted > 50 * abs(same)


@pytest.mark.parametrize("dim", [2, 32])
def test_degenerate_inputs(dim: int) -> None:
    # Constant features: every kernel value is equal, so every MMD² is exactly 0.
    ones = torch.ones(50, dim, dtype=torch.float64)
    assert kid(ones, ones * 1.0, subsets=5, subset_size=20) == (0.0, 0.0)
    # Subsets as large as the sets: one value, repeated (torch-fidelity: round-off around it).
    real, fake = randn(40, dim, seed=9), randn(40, dim, seed=10) + 1
    got = kid(real, fake, subsets=4, subset_size=40)
    assert got[1] == 0.0
    assert_same(got, torch_fidelity_kid(real, fake, subsets=4, subset_size=40))
    # Degree 0: a constant kernel; two rows per set, the smallest KID accepts.
    assert kid(real[:2], fake[:2], subsets=3, degree=0) == (0.0, 0.0)
    expected = torch_fidelity_kid(real[:2], fake[:2], subsets=3, subset_size=2)
    assert_same(kid(real[:2], fake[:2], subsets=3), expected)


def test_float32_input_is_measured_in_float64() -> None:
    real, fake = randn(150, 6, seed=11).float(), randn(150, 6, seed=12).float() + 0.2
    expected = torch_fidelity_kid(real.double(), fake.double(), subsets=10, subset_size=100)
    assert_same(kid(real, fake, subsets=10, subset_size=100), expected)


@pytest.mark.parametrize(
    ("real", "fake", "kwargs", "problem"),
    [
        (torch.zeros(0, 3), torch.zeros(5, 3), {}, "rows"),
        (torch.randn(10, 3), torch.randn(1, 3), {}, "rows"),
        (torch.randn(10, 3), torch.randn(10, 4), {}, "width"),
        (torch.randn(10, 3), torch.full((10, 3), float("nan")), {}, "NaN"),
        (torch.tensor([[float("inf"), 0.0]] * 5), torch.randn(5, 2), {}, "NaN or inf"),
        (torch.randn(10, 3), torch.randn(10, 3), {"subset_size": 1}, "subset_size"),
        (torch.randn(10, 3), torch.randn(10, 3), {"subsets": 0}, "subsets"),
        (torch.randn(10, 3), torch.randn(10, 3), {"gamma": 0.0}, "gamma"),
    ],
)
def test_kid_rejects_bad_inputs(
    real: torch.Tensor, fake: torch.Tensor, kwargs: dict, problem: str
) -> None:
    with pytest.raises(MetricInputError, match=rf"^kid: .*{problem}"):
        kid(real, fake, **kwargs)


def test_kid_metric_reads_features() -> None:
    metric = METRICS.get("kid")
    real, fake = Features(randn(300, 4, seed=1)), Features(randn(200, 4, seed=2) + 1)
    inputs = EvalInputs(torch.zeros(200, 2), fake, real, RING8.eval_spec, RING8.info)
    mean, std = kid(real.features, fake.features)
    assert metric.compute(inputs) == {"kid": mean, "kid_std": std}
    assert set(metric.directions) == {"kid", "kid_std"}
