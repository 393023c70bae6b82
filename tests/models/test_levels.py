"""Decoders normalised over a dataset's pixel levels (bench.models.levels) and the VAE's
importance-weighted bound on the discrete NLL that uses them."""

from __future__ import annotations

import math

import torch

from bench.data.base import DataInfo
from bench.models.levels import (
    bernoulli_level_log_probs,
    bernoulli_level_nll,
    gaussian_level_nll,
)
from bench.models.vae import Vae


def test_bernoulli_levels_of_one_pixel_sum_to_one_and_match_the_closed_form() -> None:
    logits = torch.tensor([-30.0, -2.0, -1e-9, 0.0, 1e-9, 0.7, 25.0], dtype=torch.float64)
    for levels in (2, 17, 256):
        log_p = bernoulli_level_log_probs(logits, levels)
        assert torch.allclose(log_p.exp().sum(-1), torch.ones(len(logits), dtype=torch.float64))
        k = torch.arange(levels, dtype=torch.float64)
        closed = torch.stack(
            [
                bernoulli_level_nll(
                    logits[:, None], (kk / (levels - 1)).expand(len(logits), 1), levels
                )
                for kk in k
            ],
            dim=-1,
        )
        assert torch.allclose(closed, -log_p, atol=1e-9)


def test_bernoulli_levels_at_logit_zero_are_uniform() -> None:
    nll = bernoulli_level_nll(torch.zeros(1, 10), torch.rand(1, 10), 256)
    assert math.isclose(nll.item(), 10 * math.log(256), rel_tol=1e-6)


def test_gaussian_level_bins_of_one_pixel_sum_to_one() -> None:
    levels = 17
    k = torch.arange(levels, dtype=torch.float64)
    for mean, log_var in ((0.3, -4.0), (1.4, 0.0), (-0.2, -9.0)):
        nll = torch.stack(
            [
                gaussian_level_nll(
                    torch.tensor([[mean]], dtype=torch.float64),
                    torch.tensor([log_var], dtype=torch.float64),
                    torch.tensor([[kk / (levels - 1)]], dtype=torch.float64),
                    levels,
                )
                for kk in k
            ]
        )
        assert math.isclose((-nll).exp().sum().item(), 1.0, rel_tol=1e-6)


def exact_discrete_nll(model: Vae, x: torch.Tensor, levels: int) -> torch.Tensor:
    """-log P(x) of a 1-d latent VAE by quadrature over z (fine grid on [-8, 8])."""
    z = torch.linspace(-8.0, 8.0, 4001)[:, None]
    dz = float(z[1, 0] - z[0, 0])
    with torch.no_grad():
        raw = model.decoder_raw(z)  # (G, D)
        log_px_z = -torch.stack(
            [model.likelihood.level_nll(raw, xi.expand_as(raw), levels) for xi in x]
        )
    log_pz = -0.5 * (z[:, 0] ** 2 + math.log(2 * math.pi))
    return -torch.logsumexp(log_px_z + log_pz + math.log(dz), dim=-1)


def test_vae_bound_on_the_discrete_nll_is_above_the_exact_value() -> None:
    torch.manual_seed(0)
    levels = 5
    info = DataInfo((1, 3, 3), "image", (0.0, 1.0))
    model = Vae(Vae.HParams(latent_dim=1, hidden=8, layers=1), info)
    x = torch.randint(0, levels, (6, 9)).float() / (levels - 1)
    exact = exact_discrete_nll(model, x, levels)
    gen = torch.Generator().manual_seed(1)
    bound = torch.stack([model.importance_nll(x, 64, gen, levels=levels) for _ in range(50)])
    gap = (bound - exact).mean(1)  # per draw, averaged over the images
    assert gap.mean() >= -3 * gap.std() / math.sqrt(len(gap))  # >= 0 in expectation
    assert gap.mean() < 0.5  # k = 64 is tight on a 1-d latent
    bits = bound.mean() / (9 * math.log(2))
    assert 0.0 < bits < 2 * math.log2(levels)  # in a sane range against the uniform log2 L
    assert torch.isfinite(-model.log_likelihood(x, levels)).all()
