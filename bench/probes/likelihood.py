"""The probe of models with a density: held-out log-likelihoods (bench.metrics.likelihood)."""

from __future__ import annotations

from typing import Any

import torch

from bench.data.base import DataSplits, EvalSpec
from bench.metrics.likelihood import LIKELIHOOD_IMAGES
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
        gen = eval_generator(model)
        levels = spec.pixel_levels

        def log_p(xs: torch.Tensor, ys: Any) -> torch.Tensor:
            return model.log_likelihood(xs, levels, gen).double()

        return {"log_likelihood": in_chunks(log_p, x, None)}
