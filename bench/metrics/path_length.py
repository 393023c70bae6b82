"""Perceptual path length (Karras et al. 2019, StyleGAN section 4.2), in the dataset's feature
space: how much the output moves, per unit of latent path, as the latent walks between two
draws. Short paths mean a smooth latent space without sudden changes of content.

PPL = E over pairs (z1, z2) and t ~ U(0, 1) of ||phi(g(p(t))) - phi(g(p(t + eps)))||^2 / eps^2,
p the interpolation path from z1 to z2 (slerp for Gaussian latents, lerp for codes whose
density is not an isotropic Gaussian). Karras measure phi with VGG16 / LPIPS; bench measures
in the dataset's own feature space (the domain classifier's features on digits, raw coordinates
on 2-D points), so values compare between models on one dataset, not with papers. As in their
code, the values below the 1st and above the 99th percentile are dropped before averaging.

The evaluator's probe (bench/probes/interpolation.py) draws the pairs and decodes both ends of
each step; this module is the pure computation on their features."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from bench.data.base import DataInfo, EvalSpec
from bench.metrics.autoencoding import EVAL_SEED, finite, probed
from bench.metrics.base import METRICS, EvalInputs, Metric, MetricInputError

if TYPE_CHECKING:
    pass

PATH_PAIRS = 256  # latent pairs, one t each
PATH_EPS = 1e-4  # the step along the path (Karras et al.)
TRIM = (0.01, 0.99)  # quantiles kept (inclusive), Karras et al.'s 1st and 99th percentiles


def step_lengths(start: torch.Tensor, end: torch.Tensor, eps: float = PATH_EPS) -> torch.Tensor:
    """(n,) squared feature distance of each step over eps^2: (n, d) features at t and t + eps."""
    if start.shape != end.shape or start.dim() != 2 or len(start) == 0:
        raise MetricInputError(
            f"path_length: need two (n, d) feature sets of one shape, got {tuple(start.shape)} "
            f"and {tuple(end.shape)}"
        )
    return (end.double() - start.double()).pow(2).sum(1) / eps**2


def trimmed_mean(values: torch.Tensor, trim: tuple[float, float] = TRIM) -> float:
    """Mean of the values between the low and high quantiles (inclusive), the quantiles taken as
    numpy's 'lower' and 'higher' percentiles, as Karras et al.'s code does."""
    v = values.double()
    low = torch.quantile(v, trim[0], interpolation="lower")
    high = torch.quantile(v, trim[1], interpolation="higher")
    return v[(v >= low) & (v <= high)].mean().item()


def perceptual_path_length(start: torch.Tensor, end: torch.Tensor, eps: float = PATH_EPS) -> float:
    """Karras et al.'s PPL from the features of both ends of every step."""
    return trimmed_mean(step_lengths(start, end, eps))


@METRICS.register("path_length")
class PathLength(Metric):
    order = 15
    description = (
        f"perceptual path length (Karras 2019) in the dataset's feature space, not VGG/LPIPS: "
        f"E ‖φ(g(p(t))) − φ(g(p(t+ε)))‖² / ε², ε = {PATH_EPS:g}, {PATH_PAIRS} latent pairs, "
        "1st-99th percentiles kept; path p: slerp for Gaussian latents (GANs, VAEs), lerp for "
        "codes of a fitted density (other autoencoders); not DDPM (too costly)"
    )
    directions = {"path_length": "min"}
    unlabelled = "the path is through latents alone"
    probes = ("path_steps",)
    settings = {"pairs": PATH_PAIRS, "eps": PATH_EPS, "trim": list(TRIM), "seed": EVAL_SEED}

    def applies(self, spec: EvalSpec, info: DataInfo) -> str | None:
        return None

    def compute(self, inputs: EvalInputs, prepared: Any = None) -> dict[str, float]:
        start = probed(inputs, "path_start_features", "path_length")
        end = probed(inputs, "path_end_features", "path_length")
        return finite("path_length", {"path_length": perceptual_path_length(start, end)})
