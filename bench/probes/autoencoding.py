"""Probes of autoencoders (and of the other models anomaly detection scores): reconstructions,
ELBO terms, posterior means, codes, and per-image anomaly scores of the held-out split."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from bench.data.base import DataSplits, EvalSpec
from bench.metrics.autoencoding import (
    MAX_IMAGES,
    NLL_IMAGES,
    NLL_SAMPLES,
    RESIDUAL_IMAGES,
    per_image_squared_error,
)
from bench.models.abilities import (
    Discriminates,
    Encodes,
    Generates,
    Reconstructs,
    Variational,
)
from bench.models.nets import inference
from bench.probes import PROBES, Probe
from bench.probes.heldout import eval_generator, heldout, in_chunks
from bench.probes.latents import latent_residuals


@PROBES.register("reconstructions")
class Reconstructions(Probe):
    description = f"reconstructions of the first {MAX_IMAGES} held-out points (labels given)"
    needs = Reconstructs
    keys = ("reconstructions",)

    def run(self, model: Any, splits: DataSplits, spec: EvalSpec) -> dict[str, torch.Tensor]:
        x, y = heldout(splits)
        recon = in_chunks(lambda xs, ys: model.reconstruct(xs, ys).cpu().float(), x, y)
        return {"reconstructions": recon}


@PROBES.register("elbo")
class ElboTerms(Probe):
    description = (
        f"per image (reconstruction NLL, KL) of one posterior draw, first {MAX_IMAGES} held-out "
        f"points, then the importance-sampled NLL (k={NLL_SAMPLES}) of the first {NLL_IMAGES}"
    )
    needs = Variational
    keys = ("neg_elbo", "importance_nll")

    def run(self, model: Any, splits: DataSplits, spec: EvalSpec) -> dict[str, torch.Tensor]:
        x, y = heldout(splits)
        gen = eval_generator(model)  # one stream: the NLL's draws follow the ELBO's

        def neg_elbo(xs: torch.Tensor, ys: torch.Tensor | None) -> torch.Tensor:
            return torch.stack(model.neg_elbo(xs, gen, ys), dim=1)

        with inference(model):
            parts = in_chunks(neg_elbo, x, y)
        n = min(NLL_IMAGES, len(x))
        nll = model.importance_nll(x[:n], NLL_SAMPLES, gen, None if y is None else y[:n])
        return {"neg_elbo": parts, "importance_nll": nll.detach().cpu()}


@PROBES.register("posterior_means")
class PosteriorMeans(Probe):
    description = f"posterior means E_q[z | x] of the first {MAX_IMAGES} held-out points"
    needs = Variational
    keys = ("posterior_means",)

    def run(self, model: Any, splits: DataSplits, spec: EvalSpec) -> dict[str, torch.Tensor]:
        x, y = heldout(splits)
        with inference(model):
            means = in_chunks(lambda xs, ys: model.encode(xs, ys)[0], x, y)
        return {"posterior_means": means}


@PROBES.register("codes")
class Codes(Probe):
    description = "codes (posterior means for VAEs) of every held-out point (labels given)"
    needs = Encodes
    keys = ("codes",)

    def run(self, model: Any, splits: DataSplits, spec: EvalSpec) -> dict[str, torch.Tensor]:
        x, y = heldout(splits, limit=None)
        return {"codes": in_chunks(model.codes, x, y)}


# ---------------------------------------------------------------- anomaly scores

Scorer = Callable[[Any, torch.Tensor], torch.Tensor]  # (model, x) -> (N,), higher = anomalous


def negative_elbo(model: Any, x: torch.Tensor) -> torch.Tensor:
    """-ELBO of one posterior draw per image, one EVAL_SEED stream over the chunks."""
    gen = eval_generator(model)
    return in_chunks(lambda xs, _: -model.elbo(xs, gen), x, None)


def squared_error(model: Any, x: torch.Tensor) -> torch.Tensor:
    """(B,) per-image squared reconstruction error of unlabelled inputs."""
    return in_chunks(
        lambda xs, _: per_image_squared_error(model.reconstruct(xs, None).cpu().float(), xs),
        x,
        None,
    )


def negative_score(model: Any, x: torch.Tensor) -> torch.Tensor:
    """-D(x): the discriminator (critic) finds unseen data less real."""
    return in_chunks(lambda xs, _: -model.discriminate(xs).float(), x, None)


# The first ability a model has picks its score (a VAE also reconstructs: its ELBO wins).
SCORERS: tuple[tuple[type, Scorer], ...] = (
    (Variational, negative_elbo),
    (Reconstructs, squared_error),
    (Discriminates, negative_score),
)


@PROBES.register("anomaly_scores")
class AnomalyScores(Probe):
    """Higher = more anomalous: -ELBO for models with one (one draw, EVAL_SEED), per-image
    squared reconstruction error for other autoencoders, -D(x) for GANs; for models with a
    latent and a generator also the residual of latent optimisation (first RESIDUAL_IMAGES).
    Labels are withheld: a test image of an unseen class comes without one."""

    description = (
        "per held-out point: -ELBO (VAEs), squared reconstruction error (autoencoders) or -D(x) "
        f"(GANs), no labels; GANs also the latent residual of the first {RESIDUAL_IMAGES}"
    )
    needs = (Reconstructs, Discriminates)  # every VAE reconstructs too
    keys = ("anomaly_scores", "anomaly_residuals")

    def run(self, model: Any, splits: DataSplits, spec: EvalSpec) -> dict[str, torch.Tensor]:
        x, _ = heldout(splits, limit=None)
        score = next(scorer for ability, scorer in SCORERS if isinstance(model, ability))
        out = {"anomaly_scores": score(model, x)}
        if isinstance(model, Generates):
            out["anomaly_residuals"] = latent_residuals(model, x[:RESIDUAL_IMAGES])
        return out
