"""DDPM's variational bound (bench/models/ddpm_bound.py): on Gaussian data with the optimal noise
predictor it is an upper bound on the NLL, close to the data's entropy."""

from __future__ import annotations

import math

import torch
from torch import nn

from bench.data.base import DataInfo
from bench.models import MODELS
from bench.models.ddpm_bound import decoder_log_prob, strata


class OptimalEps(nn.Module):
    """E[eps | x_t] for x_0 ~ N(0, I): sqrt(1 - abar_t) x_t."""

    def __init__(self, abar: torch.Tensor) -> None:
        super().__init__()
        self.abar = abar

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return (1 - self.abar[t]).sqrt()[:, None] * x


def gaussian_ddpm(timesteps: int):
    cls = MODELS.get("ddpm")
    model = cls(cls.HParams(timesteps=timesteps), DataInfo((2,), "points", None))
    model.scaler.fit(torch.randn(100000, 2, generator=torch.Generator().manual_seed(1)))
    model.scaler.shift.zero_()
    model.scaler.scale.fill_(1.0)
    model.ema = OptimalEps(model.schedule.alpha_bar)
    return model


def test_bound_is_at_least_the_exact_nll_and_close_to_it() -> None:
    x = torch.randn(4000, 2, generator=torch.Generator().manual_seed(0))
    model = gaussian_ddpm(timesteps=50)
    nll_bound = -model.log_likelihood(x, None, torch.Generator().manual_seed(2)).mean().item()
    exact = -torch.distributions.Normal(0.0, 1.0).log_prob(x).sum(-1).mean().item()
    assert nll_bound >= exact - 0.02  # Monte-Carlo noise of one draw per term
    assert nll_bound <= exact + 0.3
    assert "bound" in model.likelihood_kind()


def test_discretized_decoder_sums_to_one_over_the_levels() -> None:
    levels = 5
    grid = torch.linspace(-1, 1, levels)[:, None]
    p = decoder_log_prob(grid, torch.full_like(grid, 0.3), 0.4, levels).exp()
    assert math.isclose(p.sum().item(), 1.0, abs_tol=1e-6)


def test_strata_cover_every_middle_index_once() -> None:
    picks = strata(1000, torch.Generator().manual_seed(0))
    assert sum(weight for _, weight in picks) == 999
    assert [t for t, w in picks[:5]] == [1, 2, 3, 4, 5]  # the large early terms: exact
    assert strata(20, None) == [(t, 1) for t in range(1, 20)]
