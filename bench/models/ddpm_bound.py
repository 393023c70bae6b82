"""DDPM's variational bound on log p(x) (Ho et al. 2020, eq. 5), the Density ability of `ddpm`:

    -log p(x_0) <= KL(q(x_T | x_0) || N(0, I)) - log p(x_0 | x_1)
                   + sum_{t>1} KL(q(x_{t-1} | x_t, x_0) || p(x_{t-1} | x_t)),

with p(x_{t-1} | x_t) = N(mu_theta(x_t, t), beta_t I) (Ho et al.'s sigma_t^2 = beta_t, exact
for Gaussian data; the KL to q's variance beta~_t is in closed form) and, for the last step, the
decoder N(mu_theta(x_1, 1), beta_1 I): a continuous density for points, for
images discretized into the bins of the pixel levels in [-1, 1] (the end bins reaching to
+-infinity), as in Ho et al.'s bits/dim. Each KL term is evaluated at one draw of x_t. With more
than BOUND_STEPS diffusion steps, the middle sum is estimated without bias from BOUND_STEPS time
indices, one per stratum of geometrically growing width (the same for the whole batch)."""

from __future__ import annotations

import math

import torch

from bench.models.nets import inference

BOUND_STEPS = 100  # KL terms evaluated per bound at most (an unbiased estimate of their sum)


def normal_cdf(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * (1 + torch.erf(x / math.sqrt(2)))


def decoder_log_prob(
    x0: torch.Tensor, mean: torch.Tensor, std: float, levels: int | None
) -> torch.Tensor:
    """log p(x_0 | x_1) per sample: Gaussian density (levels None) or the probability of the
    pixel's bin of half-width 1 / (levels - 1) in [-1, 1]."""
    if levels is None:
        z = (x0 - mean) / std
        per_dim = -0.5 * z.pow(2) - math.log(std) - 0.5 * math.log(2 * math.pi)
        return per_dim.flatten(1).sum(-1)
    half = 1.0 / (levels - 1)
    upper = torch.where(x0 > 1 - half, torch.ones_like(x0), normal_cdf((x0 + half - mean) / std))
    lower = torch.where(x0 < -1 + half, torch.zeros_like(x0), normal_cdf((x0 - half - mean) / std))
    return torch.log((upper - lower).clamp(min=1e-12)).flatten(1).sum(-1)


class DdpmDensity:
    """The Density ability of Ddpm (mixed into the model class; reads its schedule, scaler and
    EMA noise predictor)."""

    def likelihood_kind(self) -> str:
        steps = self.schedule.timesteps  # type: ignore[attr-defined]
        sampled = "" if steps - 1 <= BOUND_STEPS else f", KL terms from {BOUND_STEPS} strata"
        return f"bound: variational (Ho et al. 2020), T={steps}{sampled}"

    def log_likelihood(
        self, x: torch.Tensor, levels: int | None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        model = self
        with inference(model):  # type: ignore[arg-type]
            x = x.to(model.device)  # type: ignore[attr-defined]
            x0 = model.scaler.encode(x)  # type: ignore[attr-defined]
            if levels is not None:  # snap to the level grid of [-1, 1]
                x0 = torch.round((x0 + 1) / 2 * (levels - 1)) / (levels - 1) * 2 - 1
            bound = -prior_kl(model, x0) - middle_kls(model, x0, generator)
            bound = bound + last_step(model, x0, levels, generator)
            if levels is None:  # the scaler's Jacobian: a density of the data, not of x0
                scale = model.scaler.scale.expand_as(x0)  # type: ignore[attr-defined]
                bound = bound - torch.log(scale).flatten(1).sum(-1)
            return bound


def prior_kl(model, x0: torch.Tensor) -> torch.Tensor:
    """KL(q(x_T | x_0) || N(0, I)) per sample."""
    abar = model.schedule.alpha_bar[-1].double()
    mean2, var = abar * x0.double().pow(2), 1 - abar
    return (0.5 * (mean2 + var - 1 - torch.log(var))).flatten(1).sum(-1).float()


def noised(model, x0: torch.Tensor, t: int, generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(x_t ~ q(x_t | x_0), the network's mean of p(x_{t-1} | x_t))."""
    sched = model.schedule
    noise = torch.randn(x0.shape, generator=generator, device=_gen_device(generator, x0))
    abar = sched.alpha_bar[t]
    x_t = abar.sqrt() * x0 + (1 - abar).sqrt() * noise.to(x0.device)
    beta = sched.betas[t]
    mean = (x_t - beta / (1 - abar).sqrt() * model.eps(x_t, t)) / (1 - beta).sqrt()
    return x_t, mean


def middle_kls(model, x0: torch.Tensor, generator) -> torch.Tensor:
    """sum over time indices 1..T-1 of KL(q(x_{t-1} | x_t, x_0) || p(x_{t-1} | x_t))."""
    sched = model.schedule
    total = torch.zeros(len(x0), device=x0.device)
    for t, weight in strata(sched.timesteps, generator):
        x_t, mean = noised(model, x0, t, generator)
        q_mean = sched.coef_x0[t] * x0 + sched.coef_xt[t] * x_t
        q_var, p_var = sched.posterior_variance[t], sched.betas[t]
        per_dim = torch.log(p_var / q_var) + q_var / p_var - 1 + (q_mean - mean).pow(2) / p_var
        total += weight * 0.5 * per_dim.flatten(1).sum(-1)
    return total


def strata(timesteps: int, generator) -> list[tuple[int, int]]:
    """(time index, weight) pairs whose weighted sum estimates a sum over indices 1..T-1 without
    bias: every index when there are at most BOUND_STEPS, else one uniform draw from each of
    BOUND_STEPS strata with geometrically growing widths (the KL terms fall off roughly as 1/t,
    so the large early terms are each their own stratum, evaluated exactly)."""
    if timesteps - 1 <= BOUND_STEPS:
        return [(t, 1) for t in range(1, timesteps)]
    edges = torch.logspace(0, math.log10(timesteps), BOUND_STEPS + 1, dtype=torch.float64)
    bounds = sorted(set(edges.round().long().clamp(1, timesteps).tolist()) | {1, timesteps})
    gen = _cpu(generator)
    picks = []
    for low, high in zip(bounds[:-1], bounds[1:], strict=True):
        t = low + int(torch.randint(high - low, (1,), generator=gen))
        picks.append((t, high - low))
    return picks


def last_step(model, x0: torch.Tensor, levels: int | None, generator) -> torch.Tensor:
    """log p(x_0 | x_1) at one draw of x_1, with the decoder's std sqrt(beta_1)."""
    _, mean = noised(model, x0, 0, generator)
    return decoder_log_prob(x0, mean, float(model.schedule.betas[0].sqrt()), levels)


def _gen_device(generator, x: torch.Tensor) -> torch.device:
    return generator.device if generator is not None else x.device


def _cpu(generator) -> torch.Generator | None:
    """A CPU generator for the choice of time indices, seeded from `generator` when given."""
    if generator is None:
        return None
    seed = int(torch.randint(2**62, (1,), generator=generator, device=generator.device))
    return torch.Generator().manual_seed(seed)
