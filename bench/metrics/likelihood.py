"""Density estimation on the held-out split (the `likelihood` metric): nats per example and bits
per dimension, under one protocol for every model with a density (the Density ability).

Points are continuous: -log p(x) of the density itself (bits/dim may be negative). Images are
discrete, with the dataset's grey-level count L (DataInfo.levels: 17 for sklearn digits,
256 for mnist5k): -log P(x) of the pixels, for continuous models through uniform dequantization
(log P(x) >= E_u log p((k + u) / L) - D log L), so a uniform model scores log2 L bits/dim.
Whether a model's value is exact or a bound (and the bound's k) is its `likelihood_kind`, named
in the metric's settings. Likelihood-based anomaly detection (`likelihood_anomaly`) scores a
held-out image by -log p(x)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch

from bench.data.base import DataInfo, EvalSpec
from bench.metrics.autoencoding import EVAL_SEED, anomaly_auroc, auroc, finite, probed
from bench.metrics.base import METRICS, EvalInputs, Metric, MetricInputError

if TYPE_CHECKING:
    pass

LIKELIHOOD_IMAGES = 1000  # held-out points whose likelihood is measured (the first ones)
IWAE_K = 64  # importance samples of a VAE's bound (bench.models.vae.DENSITY_K, checked by a test)


def nats_and_bits(log_p: torch.Tensor, dim: int) -> dict[str, float]:
    """Mean NLL in nats per example and in bits per dimension from per-example log p (nats)."""
    if log_p.dim() != 1 or len(log_p) == 0:
        raise MetricInputError(f"likelihood: need (N >= 1,) log-likelihoods, got {log_p.shape}")
    if not torch.isfinite(log_p).all():
        raise MetricInputError("likelihood: some held-out log-likelihoods are not finite")
    nll = -log_p.double().mean().item()
    return {"nll_nats": nll, "bits_per_dim": nll / (dim * math.log(2))}


@METRICS.register("likelihood")
class Likelihood(Metric):
    order = 9
    description = (
        f"held-out NLL of the first {LIKELIHOOD_IMAGES} points, nats per example and bits per "
        "dimension; images as discrete pixels with the dataset's grey-level count (uniform "
        "dequantization for continuous models), points as continuous densities; exact for flows "
        f"and PixelCNN on points/pixels, an importance-weighted bound (k={IWAE_K}, the decoder "
        "normalised over the levels) for VAEs, the "
        "variational bound for DDPM"
    )
    directions = {"nll_nats": "min", "bits_per_dim": "min"}
    unlabelled = "the likelihood is of unlabelled data"
    probes = ("log_likelihoods",)
    settings = {
        "images": LIKELIHOOD_IMAGES,
        "pixels": "discrete, DataInfo.levels grey levels, uniform dequantization",
        "points": "continuous density",
        "kind": (
            "exact: flows on points, pixelcnn; bound: flows on images (dequantization), vae "
            f"(importance-weighted, k={IWAE_K}, decoder normalised over the levels), ddpm "
            "(variational, discretized decoder)"
        ),
        "iwae_k": IWAE_K,
        "seed": EVAL_SEED,
    }

    def applies(self, spec: EvalSpec, info: DataInfo) -> str | None:
        if info.kind == "image" and info.levels is None:
            return "the dataset does not say how many grey levels its pixels take (DataInfo.levels)"
        return None

    def compute(self, inputs: EvalInputs, prepared: Any = None) -> dict[str, float]:
        log_p = probed(inputs, "log_likelihood", "likelihood")
        return finite("likelihood", nats_and_bits(log_p, inputs.info.dim))


@METRICS.register("likelihood_anomaly")
class LikelihoodAnomaly(Metric):
    order = 14
    description = (
        "anomaly detection of the class left out of training by likelihood: AUROC of -log p(x) "
        f"on the first {LIKELIHOOD_IMAGES} held-out images (dataset param exclude_class)"
    )
    directions = {"anomaly_auroc_likelihood": "max"}
    unlabelled = "the likelihood is of unlabelled data"
    probes = ("log_likelihoods", "labels")
    settings = {"images": LIKELIHOOD_IMAGES, "seed": EVAL_SEED}

    def applies(self, spec: EvalSpec, info: DataInfo) -> str | None:
        if spec.anomaly_class is None:
            return "no class is left out of training (set the dataset parameter exclude_class)"
        return Likelihood().applies(spec, info)

    def compute(self, inputs: EvalInputs, prepared: Any = None) -> dict[str, float]:
        log_p = probed(inputs, "log_likelihood", "likelihood_anomaly")
        if "labels" not in inputs.probes:
            raise MetricInputError("likelihood_anomaly: the held-out split has no labels")
        assert inputs.spec.anomaly_class is not None  # see applies()
        labels = inputs.probes["labels"][: len(log_p)]
        auroc = anomaly_auroc(-log_p, labels, inputs.spec.anomaly_class)
        return finite("likelihood_anomaly", {"anomaly_auroc_likelihood": auroc})


# ---------------------------------------------------------------- out-of-distribution data

OOD_SEED = 0  # the pixel permutation of the shuffled copy, the shapes drawn


def inverted(x: torch.Tensor, info: DataInfo) -> torch.Tensor:
    """Images in [0, 1] with every grey level reversed (white digits become black on white)."""
    return 1.0 - x


def shuffled(x: torch.Tensor, info: DataInfo) -> torch.Tensor:
    """Every image's pixels in one fixed random order: the grey-level histogram kept, the
    spatial structure destroyed."""
    flat = x.reshape(len(x), -1)
    order = torch.randperm(flat.shape[1], generator=torch.Generator().manual_seed(OOD_SEED))
    return flat[:, order].reshape(x.shape)


def shapes(x: torch.Tensor, info: DataInfo) -> torch.Tensor:
    """Another dataset of x's shape: as many of bench's procedural shapes (bench.data.shapes,
    white on black like the digits, a seeded draw of factor combinations) as x has images, drawn
    at x's resolution, on the dataset's grey levels and in its channels. Simpler images than
    digits: Serrà et al. (2020) trace the paradox to such images' higher likelihood."""
    from bench.data.shapes import ShapesParams, all_factors, factor_sizes, render

    channels, height, width = x.shape[1:]
    params = ShapesParams(resolution=max(height, width))
    factors = all_factors(factor_sizes(params))
    drawn = torch.randperm(len(factors), generator=torch.Generator().manual_seed(OOD_SEED))
    images = render(factors[drawn[: len(x)]].repeat(-(-len(x) // len(factors)), 1), params)
    if (height, width) != images.shape[2:]:
        images = torch.nn.functional.interpolate(images, size=(height, width), mode="area")
    steps = (info.levels or 256) - 1  # ood applies only to images with a level count
    return (images * steps).round().div(steps).expand(-1, channels, -1, -1)[: len(x)]


# Out-of-distribution images that `ood` scores against the held-out ones: two copies of them
# (inverted, pixel-shuffled) and another dataset of their shape (shapes), each a function of the
# held-out images and the dataset's DataInfo.
OOD_SETS = {"inverted": inverted, "shuffled": shuffled, "shapes": shapes}


def ood_auroc(log_p_in: torch.Tensor, log_p_out: torch.Tensor) -> float:
    """AUROC of "in-distribution data has the higher likelihood": 1 separates perfectly, 0.5 is
    chance, below 0.5 the model prefers the out-of-distribution data (Nalisnick et al. 2019)."""
    scores = torch.cat([log_p_in, log_p_out])
    positive = torch.cat([torch.ones(len(log_p_in)), torch.zeros(len(log_p_out))]).bool()
    return auroc(scores, positive)


@METRICS.register("ood")
class OutOfDistribution(Metric):
    order = 15
    by_default = False
    description = (
        "likelihood out-of-distribution check: AUROC of log p(held-out image) > log p(foreign "
        f"image), the first {LIKELIHOOD_IMAGES} held-out images against their inverted and "
        "pixel-shuffled copies and as many procedural shapes drawn at their resolution and grey "
        "levels; below 0.5 the model prefers the foreign data (Nalisnick et al. 2019)"
    )
    directions = {f"ood_auroc_{name}": "max" for name in OOD_SETS}
    unlabelled = "the likelihood is of unlabelled data"
    probes = ("log_likelihoods", "ood_log_likelihoods")
    settings = {"images": LIKELIHOOD_IMAGES, "sets": list(OOD_SETS), "seed": OOD_SEED}

    def applies(self, spec: EvalSpec, info: DataInfo) -> str | None:
        if info.kind != "image":
            return "the out-of-distribution copies are of images"
        return Likelihood().applies(spec, info)

    def compute(self, inputs: EvalInputs, prepared: Any = None) -> dict[str, float]:
        log_p = probed(inputs, "log_likelihood", "ood")
        values = {
            f"ood_auroc_{name}": ood_auroc(log_p, probed(inputs, f"log_likelihood_{name}", "ood"))
            for name in OOD_SETS
        }
        return finite("ood", values)
