"""Vendi against its definition and the vendi-score package; CMMD against the paper's formula."""

import math

import pytest
import torch

from bench.metrics.cmmd import CMMD_SCALE, CMMD_SIGMA, cmmd
from bench.metrics.vendi import vendi_score


def test_vendi_of_identical_samples_is_one_and_of_orthogonal_is_n():
    assert vendi_score(torch.ones(7, 4)) == pytest.approx(1.0)
    assert vendi_score(torch.eye(7)) == pytest.approx(7.0)


def test_vendi_equals_the_vendi_score_package():
    vendi = pytest.importorskip("vendi_score.vendi")
    x = torch.randn(30, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert vendi_score(x) == pytest.approx(vendi.score_dual(x.numpy(), normalize=True))
    assert vendi_score(x.T) == pytest.approx(vendi.score_dual(x.T.numpy(), normalize=True))


def paper_cmmd(x: torch.Tensor, y: torch.Tensor) -> float:
    """The unbiased MMD² of Jayasumana et al. (2024), term by term, on normalised rows."""
    x, y = (torch.nn.functional.normalize(t, dim=1) for t in (x, y))
    k = lambda a, b: math.exp(-float((a - b).square().sum()) / (2 * CMMD_SIGMA**2))  # noqa: E731
    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(a, b) for a in x for b in y) / (m * n)
    return CMMD_SCALE * (xx + yy - 2 * xy)


def test_cmmd_equals_the_papers_formula_and_grows_with_a_shift():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(12, 5, generator=gen, dtype=torch.float64)
    y = torch.randn(9, 5, generator=gen, dtype=torch.float64) + 0.3
    assert cmmd(x, y) == pytest.approx(paper_cmmd(x, y))
    same = torch.randn(400, 5, generator=gen, dtype=torch.float64)
    other = torch.randn(400, 5, generator=gen, dtype=torch.float64)
    shifts = [cmmd(same, other + s) for s in (0.0, 0.5, 1.0, 2.0)]
    assert abs(shifts[0]) < shifts[1] < shifts[2] < shifts[3]
