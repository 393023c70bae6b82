"""Decoders evaluated as distributions over a dataset's L discrete grey levels: a decoder trained
on continuous grey values (a Bernoulli on soft targets is not normalised over the levels, so its
"likelihood" is not a probability) is turned into a categorical over the L values k / (L - 1), so
its -log P(x) is comparable with the flows' and PixelCNN's bits per dimension."""

from __future__ import annotations

import math

import torch

TINY_SLOPE = 1e-20  # |a| floor of the closed form, which is log L + (L - 1) a / 2 near a = 0


def level_index(x01: torch.Tensor, levels: int) -> torch.Tensor:
    """Integer levels k in [0, levels) of values in [0, 1] on the grid k / (levels - 1)."""
    return torch.round(x01.clamp(0.0, 1.0) * (levels - 1))


def log_sum_exp_ramp(a: torch.Tensor, levels: int) -> torch.Tensor:
    """log sum_{j=0}^{L-1} exp(j a) elementwise, in closed form (a geometric series), so the
    normaliser over L levels needs no (…, L) tensor. For a < 0 the sum is exp((L-1) a) times the
    sum at -a; near a = 0 it tends to log L."""
    s = a.abs().clamp_min(TINY_SLOPE)
    positive = (levels - 1) * s + torch.log(-torch.expm1(-levels * s)) - torch.log(-torch.expm1(-s))
    return torch.where(a >= 0, positive, positive - (levels - 1) * s)


def bernoulli_level_log_probs(logits: torch.Tensor, levels: int) -> torch.Tensor:
    """(…, L) log P(level k) of the Bernoulli log-density v log p + (1 - v) log(1 - p) at
    v = k / (L - 1), normalised over the L levels with a logsumexp (the explicit form of
    `bernoulli_level_nll`, for tests and small L)."""
    v = torch.arange(levels, dtype=logits.dtype, device=logits.device) / (levels - 1)
    scores = logits[..., None] * v  # the -softplus(logit) term is the same for every level
    return scores - torch.logsumexp(scores, dim=-1, keepdim=True)


def bernoulli_level_nll(logits: torch.Tensor, x01: torch.Tensor, levels: int) -> torch.Tensor:
    """-log P(x | logits) summed over the last dimension, each pixel a categorical over the L
    levels with P(k) ∝ exp(logit · k / (L - 1)) (the Bernoulli density at the level values,
    normalised); x01 in [0, 1], snapped to the nearest level."""
    v = level_index(x01, levels) / (levels - 1)
    a = logits / (levels - 1)
    return (log_sum_exp_ramp(a, levels) - logits * v).sum(-1)


def gaussian_level_nll(
    mean: torch.Tensor, log_var: torch.Tensor, x01: torch.Tensor, levels: int
) -> torch.Tensor:
    """-log P(x) summed over the last dimension for a Gaussian N(mean, exp(log_var)) on [0, 1]
    discretised into the level bins (half-width 1 / (2 (L - 1)) around k / (L - 1), the end bins
    reaching to ±infinity), so the L probabilities of a pixel sum to 1."""
    v = level_index(x01, levels) / (levels - 1)
    half = 0.5 / (levels - 1)
    normal = torch.distributions.Normal(mean, torch.exp(0.5 * log_var))
    upper = torch.where(v >= 1.0, torch.ones_like(v), normal.cdf(v + half))
    lower = torch.where(v <= 0.0, torch.zeros_like(v), normal.cdf(v - half))
    return -torch.log((upper - lower).clamp_min(1e-12)).sum(-1)


def uniform_bits(levels: int) -> float:
    """Bits per dimension of the uniform distribution over L levels."""
    return math.log2(levels)
