"""Measurements of autoencoders on the held-out split: how well they reconstruct, the VAE family's
ELBO and importance-sampled likelihood, how many latent units a VAE uses, and anomaly detection
of a class left out of training (for GANs too, by their discriminator and latent residual).

Each is a pure function of tensors. The evaluator's probes (bench/probes/) call the model on
the held-out split first (reconstructions, ELBO terms, posterior means, anomaly scores); the
metrics read those tensors from `EvalInputs.probes` and never see the model, so they can be
tested with constructed tensors. A metric's `probes` decide which models it applies to (a GAN
has no `reconstruct`, so GAN trials never get these). The constants below fix what the probes
measure, so that evaluations compare."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch

from bench.data.base import DataInfo, EvalSpec
from bench.metrics.base import METRICS, EvalInputs, Metric, MetricInputError

if TYPE_CHECKING:
    pass

MAX_IMAGES = 2000  # held-out points a metric uses at most (the first ones: a fixed subset)
NLL_IMAGES = 500  # held-out points for the importance-sampled NLL (k decodes each)
NLL_SAMPLES = 64  # importance samples per point
ACTIVE_THRESHOLD = 0.01  # Burda et al. 2016: a unit is active when Cov_x(E_q[z_u]) exceeds this
EVAL_SEED = 2024  # the draws of stochastic estimates: fixed, so evaluations compare
CHUNK = 500  # held-out points per forward pass of a probe
# Latent optimisation of models that generate from a latent (bench/probes/latents.py): Adam on
# ||known * (G(z) - x)||^2 / n_known + PRIOR_WEIGHT * ||z||^2 / d from one seeded prior draw.
LATENT_STEPS = 200
LATENT_LR = 0.05
PRIOR_WEIGHT = 0.01
RESIDUAL_IMAGES = 500  # held-out points whose latent residual anomaly detection fits (the first)


def probed(inputs: EvalInputs, key: str, metric: str) -> torch.Tensor:
    """The tensor a probe left under `key`, or a MetricInputError naming what is missing."""
    if key not in inputs.probes:
        raise MetricInputError(
            f"{metric}: needs the probe tensor '{key}' (measured by the evaluator with the model), "
            f"and the inputs have {sorted(inputs.probes) or 'no probes'}"
        )
    return inputs.probes[key]


def per_image_squared_error(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """(N,) mean squared error over the data dimensions of each reconstruction."""
    if x_hat.shape != x.shape:
        raise MetricInputError(
            f"reconstruction: {tuple(x_hat.shape)} reconstructions of {tuple(x.shape)} inputs"
        )
    return (x_hat.float() - x.float()).pow(2).reshape(len(x), -1).mean(-1)


def reconstruction_mse(x_hat: torch.Tensor, x: torch.Tensor) -> float:
    """Mean over images of the per-image mean squared reconstruction error."""
    if len(x) == 0:
        raise MetricInputError("reconstruction: no held-out images were reconstructed")
    return per_image_squared_error(x_hat, x).mean().item()


def finite(name: str, values: dict[str, float]) -> dict[str, float]:
    bad = [k for k, v in values.items() if not math.isfinite(v)]
    if bad:
        raise MetricInputError(f"{name}: {', '.join(bad)} came out NaN or inf")
    return values


@METRICS.register("reconstruction")
class Reconstruction(Metric):
    order = 10
    description = "held-out reconstruction error: mean squared error per data dimension"
    directions = {"recon_mse": "min"}
    probes = ("heldout", "reconstructions")

    def compute(self, inputs: EvalInputs, prepared: Any = None) -> dict[str, float]:
        x_hat = probed(inputs, "reconstructions", "reconstruction")
        x = probed(inputs, "heldout", "reconstruction")[: len(x_hat)]
        return finite("reconstruction", {"recon_mse": reconstruction_mse(x_hat, x)})


def elbo_values(neg_elbo: torch.Tensor, nll: torch.Tensor) -> dict[str, float]:
    """ELBO, its KL term and the NLL, in nats per image, from per-image (reconstruction NLL, KL)
    rows (N, 2) and per-image importance-sampled NLLs (n,)."""
    if neg_elbo.dim() != 2 or neg_elbo.shape[1] != 2 or len(neg_elbo) == 0 or len(nll) == 0:
        raise MetricInputError(
            f"elbo: need (N, 2) ELBO terms and (n,) NLLs, got {tuple(neg_elbo.shape)} and "
            f"{tuple(nll.shape)}"
        )
    values = {
        "elbo": -neg_elbo.sum(1).mean().item(),
        "kl": neg_elbo[:, 1].mean().item(),
        "nll": nll.mean().item(),
    }
    return finite("elbo", values)


@METRICS.register("elbo")
class Elbo(Metric):
    order = 11
    description = (
        "VAEs, nats per image on the held-out split: ELBO, its KL term, and the NLL by "
        f"importance sampling (k={NLL_SAMPLES}, first {NLL_IMAGES} images); given the label "
        "for the conditional VAE"
    )
    # `kl` has no better direction; "min" only files it (a lower rate is the compressive end).
    directions = {"elbo": "max", "nll": "min", "kl": "min"}
    probes = ("elbo",)

    def compute(self, inputs: EvalInputs, prepared: Any = None) -> dict[str, float]:
        return elbo_values(
            probed(inputs, "neg_elbo", "elbo"), probed(inputs, "importance_nll", "elbo")
        )


def active_units(means: torch.Tensor, threshold: float = ACTIVE_THRESHOLD) -> torch.Tensor:
    """Which latent units are active: the variance over data points of the posterior mean
    E_q[z_u | x], (N, latent) -> (latent,) bool (Burda et al. 2016)."""
    if means.dim() != 2 or len(means) < 2:
        raise MetricInputError(
            f"active_units: need (N >= 2, latent) posterior means, got {tuple(means.shape)}"
        )
    return means.double().var(dim=0) > threshold


@METRICS.register("active_units")
class ActiveUnits(Metric):
    order = 12
    description = (
        f"VAEs: share of latent units whose posterior mean varies over held-out data "
        f"(Cov_x(E_q[z]) > {ACTIVE_THRESHOLD}, Burda et al. 2016)"
    )
    directions = {"active_units": "max"}
    probes = ("posterior_means",)

    def compute(self, inputs: EvalInputs, prepared: Any = None) -> dict[str, float]:
        means = probed(inputs, "posterior_means", "active_units")
        return {"active_units": active_units(means).float().mean().item()}


def auroc(scores: torch.Tensor, positive: torch.Tensor) -> float:
    """Area under the ROC curve of `scores` for telling `positive` (bool) rows from the rest."""
    from sklearn.metrics import roc_auc_score

    if positive.all() or not positive.any():
        raise MetricInputError(
            "anomaly: the held-out split needs both the left-out and other classes"
        )
    return float(roc_auc_score(positive.numpy(), scores.double().numpy()))


def anomaly_auroc(scores: torch.Tensor, labels: torch.Tensor, anomaly_class: int) -> float:
    """AUROC of per-image anomaly scores (higher = more anomalous) for telling the images of
    `anomaly_class` from the rest; `labels` are the images' classes, row for row."""
    if len(scores) != len(labels):
        raise MetricInputError(
            f"anomaly: {len(scores)} scores for {len(labels)} labelled held-out images"
        )
    return auroc(scores, labels == anomaly_class)


@METRICS.register("anomaly")
class Anomaly(Metric):
    order = 13
    description = (
        "anomaly detection of the class left out of training (dataset param exclude_class): "
        "AUROC on the held-out split of -ELBO (VAEs), reconstruction error (other autoencoders) "
        "or -D(x) (GANs' discriminator or critic); for GANs also of the latent-optimisation "
        f"residual ({LATENT_STEPS} Adam steps, lr {LATENT_LR}, prior weight {PRIOR_WEIGHT}, "
        f"first {RESIDUAL_IMAGES} images)"
    )
    directions = {"anomaly_auroc": "max", "anomaly_auroc_residual": "max"}
    unlabelled = "anomaly detection scores unlabelled images"
    keys_vary = True  # the residual needs a latent and a generator (GANs)
    probes = ("anomaly_scores", "labels")
    settings = {
        "latent_steps": LATENT_STEPS,
        "latent_lr": LATENT_LR,
        "prior_weight": PRIOR_WEIGHT,
        "residual_images": RESIDUAL_IMAGES,
        "seed": EVAL_SEED,
    }

    def applies(self, spec: EvalSpec, info: DataInfo) -> str | None:
        if spec.anomaly_class is None:
            return "no class is left out of training (set the dataset parameter exclude_class)"
        return None

    def compute(self, inputs: EvalInputs, prepared: Any = None) -> dict[str, float]:
        scores = probed(inputs, "anomaly_scores", "anomaly")
        if "labels" not in inputs.probes:
            raise MetricInputError("anomaly: the held-out split has no labels")
        assert inputs.spec.anomaly_class is not None  # see applies()
        labels, anomalous = inputs.probes["labels"], inputs.spec.anomaly_class
        values = {"anomaly_auroc": anomaly_auroc(scores, labels, anomalous)}
        residuals = inputs.probes.get("anomaly_residuals")
        if residuals is not None:  # of the first held-out images
            residual = anomaly_auroc(residuals, labels[: len(residuals)], anomalous)
            values["anomaly_auroc_residual"] = residual
        return finite("anomaly", values)
