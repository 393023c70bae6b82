"""CMMD and the Vendi score against their formulas, their known values and the vendi-score
package."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from bench.metrics.base import METRICS, EvalInputs, Features, MetricInputError
from bench.metrics.cmmd import CMMD_SCALE, CMMD_SIGMA, cmmd
from bench.metrics.vendi import vendi_score


def direct_mmd2(x: np.ndarray, y: np.ndarray, sigma: float, unbiased: bool) -> float:
    """The paper's formula written out pair by pair (rows normalised first)."""
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    y = y / np.linalg.norm(y, axis=1, keepdims=True)

    def k(a, b):
        return math.exp(-float(np.sum((a - b) ** 2)) / (2 * sigma**2))

    def within(s):
        n = len(s)
        pairs = [(i, j) for i in range(n) for j in range(n) if i != j or not unbiased]
        return sum(k(s[i], s[j]) for i, j in pairs) / len(pairs)

    across = sum(k(a, b) for a in x for b in y) / (len(x) * len(y))
    return within(x) + within(y) - 2 * across


def test_cmmd_is_the_papers_formula_at_its_bandwidth_and_scale():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(12, 5)), rng.normal(size=(9, 5)) + 0.5
    for unbiased in (True, False):
        expected = CMMD_SCALE * direct_mmd2(x, y, CMMD_SIGMA, unbiased)
        assert cmmd(x, y, unbiased=unbiased) == pytest.approx(expected, rel=1e-9)
    assert (CMMD_SIGMA, CMMD_SCALE) == (10.0, 1000.0)


def test_cmmd_is_zero_for_identical_sets_and_grows_with_a_shift():
    rng = np.random.default_rng(1)
    x, other = rng.normal(size=(200, 8)), rng.normal(size=(200, 8))
    assert cmmd(x, x.copy(), unbiased=False) == pytest.approx(0.0, abs=1e-9)  # exactly
    # unbiased: 0 in expectation for two samples of one distribution (for the very same set it
    # is slightly negative: the pairs (x_i, x_i) enter only the cross term)
    same = cmmd(x, other)
    assert abs(same) < 0.1 and -0.2 < cmmd(x, x.copy()) < 0
    direction = np.zeros(8)
    direction[0] = 1.0
    shifts = [cmmd(x, x + s * direction) for s in (0.5, 1.0, 2.0)]
    assert same < shifts[0] < shifts[1] < shifts[2]


def test_vendi_counts_identical_and_orthogonal_samples():
    assert vendi_score(torch.ones(10, 4)) == pytest.approx(1.0)
    assert vendi_score(torch.eye(6)) == pytest.approx(6.0)
    two = torch.cat([torch.eye(2)[:1].repeat(5, 1), torch.eye(2)[1:].repeat(5, 1)])
    assert vendi_score(two) == pytest.approx(2.0)  # two distinct samples, five copies each
    with pytest.raises(MetricInputError, match="zero feature"):
        vendi_score(torch.zeros(3, 2))


@pytest.mark.parametrize("shape", [(40, 6), (6, 40)])  # n > d and n < d: both decompositions
def test_vendi_equals_the_vendi_score_package(shape):
    from vendi_score import vendi

    x = np.random.default_rng(2).normal(size=shape)
    assert vendi_score(x) == pytest.approx(vendi.score_dual(x, q=1, normalize=True), rel=1e-9)
    kernel = lambda a, b: float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))  # noqa: E731
    assert vendi_score(x) == pytest.approx(vendi.score(list(x), kernel), rel=1e-6)


def test_the_registered_metrics_read_the_feature_space():
    real = Features(torch.randn(50, 4, dtype=torch.float64))
    collapsed = Features(real.features[:1].repeat(50, 1))
    inputs = EvalInputs(torch.empty(0), fake=collapsed, real=real, spec=None, info=None)
    vendi = METRICS.get("vendi")
    values = vendi.compute(inputs, vendi.prepare(real))
    assert values["vendi"] == pytest.approx(1.0) and 3 < values["vendi_real"] <= 4  # rank 4
    assert METRICS.get("vendi").reference_free is False  # it reports the real set's score too
    assert METRICS.get("cmmd").compute(inputs)["cmmd"] > 0


def test_vendi_with_the_gaussian_kernel_counts_well_separated_clusters():
    centres = torch.tensor([[float(i), 0.0] for i in range(8)]) * 10.0
    gen = torch.Generator().manual_seed(0)
    eight = centres.repeat_interleave(20, dim=0) + 0.001 * torch.randn(160, 2, generator=gen)
    assert vendi_score(eight, bandwidth=0.1) == pytest.approx(8.0, rel=0.05)
    assert vendi_score(eight[:20], bandwidth=0.1) == pytest.approx(1.0, rel=0.05)  # one mode
    assert vendi_score(eight) <= 2.0 + 1e-9  # the cosine kernel of 2-D points: rank 2


@pytest.mark.parametrize(("name", "modes"), [("ring8", 8), ("grid25", 25)])
def test_vendi_on_a_mixture_counts_its_modes(name: str, modes: int):
    """On the mixtures the registered metric's kernel counts covered modes: the real set scores
    close to its component count (a little above: one component's samples are near-identical,
    not identical), a generator collapsed onto two components close to 2. At the components'
    std itself the real ring8 scored about 65 and a blurry GAN's samples over 1,000."""
    from bench.data import DATASETS

    dataset = DATASETS.get(name)()
    spec, real = dataset.eval_spec, dataset.load().train[:2000].double()
    centres = torch.as_tensor(spec.mode_centers, dtype=torch.float64)[:2]
    gen = torch.Generator().manual_seed(0)
    noise = spec.mode_std * torch.randn(2000, 2, generator=gen, dtype=torch.float64)
    two = Features(centres.repeat_interleave(1000, dim=0) + noise)
    inputs = EvalInputs(torch.empty(0), fake=two, real=Features(real), spec=spec, info=None)
    vendi = METRICS.get("vendi")
    values = vendi.compute(inputs, vendi.prepare(inputs.real))
    assert modes <= values["vendi_real"] <= 1.15 * modes
    assert values["vendi"] == pytest.approx(2.0, abs=0.3)
