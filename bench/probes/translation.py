"""The probe of paired-domain translators: every held-out pair translated there and back."""

from __future__ import annotations

from typing import Any

import torch

from bench.data.base import DataSplits, EvalSpec
from bench.data.paired import domain_a, domain_b
from bench.metrics.translation import CHUNK as PAIR_CHUNK
from bench.models.abilities import Translates
from bench.models.nets import inference
from bench.probes import PROBES, Probe
from bench.probes.heldout import heldout


@PROBES.register("cycle_reconstructions")
class CycleReconstructions(Probe):
    description = "every held-out pair's images translated to the other domain and back"
    needs = Translates
    keys = ("cycled_a", "cycled_b")

    def run(self, model: Any, splits: DataSplits, spec: EvalSpec) -> dict[str, torch.Tensor]:
        x, _ = heldout(splits, limit=None)
        cycled: dict[str, list[torch.Tensor]] = {"cycled_a": [], "cycled_b": []}
        with inference(model):
            for chunk in torch.split(x, PAIR_CHUNK):
                a = domain_a(chunk).to(model.device, torch.float32)
                b = domain_b(chunk).to(model.device, torch.float32)
                cycled["cycled_a"].append(model.translate_back(model.translate(a)).cpu())
                cycled["cycled_b"].append(model.translate(model.translate_back(b)).cpu())
        return {key: torch.cat(parts) for key, parts in cycled.items()}
