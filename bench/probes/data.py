"""Probes that read the data alone (no model): the held-out split, its labels and its factors."""

from __future__ import annotations

from typing import Any

import torch

from bench.data.base import DataSplits, EvalSpec
from bench.probes import PROBES, Probe
from bench.probes.heldout import present


@PROBES.register("heldout")
class Heldout(Probe):
    description = "the held-out split in data space (what reconstructions are compared with)"
    keys = ("heldout",)

    def run(self, model: Any, splits: DataSplits, spec: EvalSpec) -> dict[str, torch.Tensor]:
        return {"heldout": splits.heldout}


@PROBES.register("labels")
class Labels(Probe):
    description = "the held-out split's class labels (none when the data has none)"
    keys = ("labels",)

    def run(self, model: Any, splits: DataSplits, spec: EvalSpec) -> dict[str, torch.Tensor]:
        return present("labels", splits.heldout_labels)


@PROBES.register("factors")
class Factors(Probe):
    description = "the held-out split's factor indices (N, K) (data with known factors only)"
    keys = ("factors",)

    def run(self, model: Any, splits: DataSplits, spec: EvalSpec) -> dict[str, torch.Tensor]:
        return present("factors", splits.heldout_factors)
