"""The probe of models with a density: held-out log-likelihoods (bench.metrics.likelihood)."""

from __future__ import annotations

from typing import Any

import torch

from bench.data.base import DataSplits, EvalSpec
from bench.metrics.likelihood import LIKELIHOOD_IMAGES, OOD_SETS
from bench.models.abilities import Density
from bench.probes import PROBES, Probe
from bench.probes.heldout import eval_generator, heldout, in_chunks


@PROBES.register("log_likelihoods")
class LogLikelihoods(Probe):
    description = (
        f"log p(x) in nats of the first {LIKELIHOOD_IMAGES} held-out points (pixels at the "
        "dataset's grey levels); no labels"
    )
    needs = Density
    keys = ("log_likelihood",)

    def run(self, model: Any, splits: DataSplits, spec: EvalSpec) -> dict[str, torch.Tensor]:
        x, _ = heldout(splits, limit=LIKELIHOOD_IMAGES)
        return {"log_likelihood": log_likelihoods(model, x, spec)}


@PROBES.register("ood_log_likelihoods")
class OodLogLikelihoods(Probe):
    description = (
        f"log p(x) in nats of the out-of-distribution images ({', '.join(OOD_SETS)}) made "
        f"from or beside the first {LIKELIHOOD_IMAGES} held-out images"
    )
    needs = Density
    keys = tuple(f"log_likelihood_{name}" for name in OOD_SETS)

    def run(self, model: Any, splits: DataSplits, spec: EvalSpec) -> dict[str, torch.Tensor]:
        x, _ = heldout(splits, limit=LIKELIHOOD_IMAGES)
        return {
            f"log_likelihood_{name}": log_likelihoods(model, foreign(x, model.info), spec)
            for name, foreign in OOD_SETS.items()
        }


def log_likelihoods(model: Any, x: torch.Tensor, spec: EvalSpec) -> torch.Tensor:
    """log p of every row of x, float64, in chunks, with the evaluation's seeded noise."""
    gen = eval_generator(model)

    def log_p(xs: torch.Tensor, ys: Any) -> torch.Tensor:
        return model.log_likelihood(xs, model.info.levels, gen).double()

    return in_chunks(log_p, x, None)
