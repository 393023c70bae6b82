"""Measurements only autoencoders support, taken on the held-out split in data space: how well
they reconstruct, the VAE family's ELBO and importance-sampled likelihood, how many latent units
a VAE uses, and anomaly detection of a class left out of training. Each metric refuses models
without the method it needs (`applies_to_model`), so GAN trials never get them."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch

from bench.data.base import DataInfo, EvalSpec
from bench.metrics.base import METRICS, EvalInputs, Metric, MetricInputError
from bench.models.nets import inference

if TYPE_CHECKING:
    from bench.models.base import GenerativeModel

MAX_IMAGES = 2000  # held-out points a metric uses at most (the first ones: a fixed subset)
NLL_IMAGES = 500  # held-out points for the importance-sampled NLL (k decodes each)
NLL_SAMPLES = 64  # importance samples per point
ACTIVE_THRESHOLD = 0.01  # Burda et al. 2016: a unit is active when Cov_x(E_q[z_u]) exceeds this
EVAL_SEED = 2024  # the draws of stochastic estimates: fixed, so evaluations compare
CHUNK = 500


def lacks(model: type[GenerativeModel], method: str, what: str) -> str | None:
    if callable(getattr(model, method, None)):
        return None
    return f"{what} needs a model with `{method}` (an autoencoder), and {model.__name__} has none"


def heldout(inputs: EvalInputs, limit: int = MAX_IMAGES) -> tuple[torch.Tensor, Any, Any]:
    """(x, labels or None, model) of the first `limit` held-out points."""
    if inputs.model is None or inputs.data is None:
        raise MetricInputError("this metric needs the model and the data in its inputs")
    x = inputs.data.heldout[:limit]
    if len(x) == 0:
        raise MetricInputError("the held-out split is empty")
    labels = inputs.data.heldout_labels
    return x, None if labels is None else labels[:limit], inputs.model


def in_chunks(fn, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    """fn(x_chunk, y_chunk) over CHUNK-row slices, concatenated on the CPU."""
    parts = []
    for start in range(0, len(x), CHUNK):
        ys = None if y is None else y[start : start + CHUNK]
        parts.append(fn(x[start : start + CHUNK], ys).detach().cpu())
    return torch.cat(parts)


def per_image_squared_error(model: Any, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    """(N,) mean squared error over the data dimensions of each reconstruction."""

    def error(xs: torch.Tensor, ys: torch.Tensor | None) -> torch.Tensor:
        x_hat = model.reconstruct(xs, ys).cpu().float()
        return (x_hat - xs.float()).pow(2).reshape(len(xs), -1).mean(-1)

    return in_chunks(error, x, y)


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

    def applies_to_model(self, model: type[GenerativeModel]) -> str | None:
        return lacks(model, "reconstruct", "reconstruction")

    def compute(self, inputs: EvalInputs, prepared: Any = None) -> dict[str, float]:
        x, y, model = heldout(inputs)
        error = per_image_squared_error(model, x, y)
        return finite("reconstruction", {"recon_mse": error.mean().item()})


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

    def applies_to_model(self, model: type[GenerativeModel]) -> str | None:
        return lacks(model, "importance_nll", "the ELBO")

    def compute(self, inputs: EvalInputs, prepared: Any = None) -> dict[str, float]:
        x, y, model = heldout(inputs)
        gen = torch.Generator(device=model.device).manual_seed(EVAL_SEED)

        def neg_elbo_parts(xs: torch.Tensor, ys: torch.Tensor | None) -> torch.Tensor:
            return torch.stack(model.neg_elbo(xs, gen, ys), dim=1)

        with inference(model):
            parts = in_chunks(neg_elbo_parts, x, y)
        n = min(NLL_IMAGES, len(x))
        nll = model.importance_nll(x[:n], NLL_SAMPLES, gen, None if y is None else y[:n])
        values = {
            "elbo": -parts.sum(1).mean().item(),
            "kl": parts[:, 1].mean().item(),
            "nll": nll.mean().item(),
        }
        return finite("elbo", values)


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

    def applies_to_model(self, model: type[GenerativeModel]) -> str | None:
        return lacks(model, "importance_nll", "active_units (a VAE's posterior)")

    def compute(self, inputs: EvalInputs, prepared: Any = None) -> dict[str, float]:
        x, y, model = heldout(inputs)

        with inference(model):
            means = in_chunks(lambda xs, ys: model.encode(xs, ys)[0], x, y)
        return {"active_units": active_units(means).float().mean().item()}


def auroc(scores: torch.Tensor, positive: torch.Tensor) -> float:
    """Area under the ROC curve of `scores` for telling `positive` (bool) rows from the rest."""
    from sklearn.metrics import roc_auc_score

    if positive.all() or not positive.any():
        raise MetricInputError(
            "anomaly: the held-out split needs both the left-out and other classes"
        )
    return float(roc_auc_score(positive.numpy(), scores.double().numpy()))


def anomaly_scores(model: Any, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    """Higher = more anomalous: -ELBO for models with one, per-image squared reconstruction
    error otherwise. Labels are withheld: a test image of an unseen class comes without one."""
    if callable(getattr(model, "elbo", None)):
        gen = torch.Generator(device=model.device).manual_seed(EVAL_SEED)
        return in_chunks(lambda xs, _: -model.elbo(xs, gen), x, None)
    return per_image_squared_error(model, x, None)


@METRICS.register("anomaly")
class Anomaly(Metric):
    order = 13
    description = (
        "anomaly detection of the class left out of training (dataset param exclude_class): "
        "AUROC of -ELBO (VAEs) or reconstruction error (other autoencoders) on the held-out split"
    )
    directions = {"anomaly_auroc": "max"}

    def applies(self, spec: EvalSpec, info: DataInfo) -> str | None:
        if spec.anomaly_class is None:
            return "no class is left out of training (set the dataset parameter exclude_class)"
        return None

    def applies_to_model(self, model: type[GenerativeModel]) -> str | None:
        if getattr(model, "conditional", False):
            return (
                "anomaly detection scores unlabelled images, and a conditional model needs labels"
            )
        return lacks(model, "reconstruct", "anomaly detection")

    def compute(self, inputs: EvalInputs, prepared: Any = None) -> dict[str, float]:
        x, y, model = heldout(inputs, limit=len(inputs.data.heldout) if inputs.data else 0)
        if y is None:
            raise MetricInputError("anomaly: the held-out split has no labels")
        scores = anomaly_scores(model, x, y)
        return finite("anomaly", {"anomaly_auroc": auroc(scores, y == inputs.spec.anomaly_class)})
