"""How much a model's final score depends on each hyperparameter of its grid.

For one (dataset, model) and one hyperparameter h that takes several values in the grid, every
completed trial's final primary metric is grouped by its value of h and averaged over the other
grid axes and the seeds. The sensitivity is the range of those means (largest minus smallest):
the score a user gains or loses by choosing h badly. It sits beside the seed std of each row, so
a reader can see whether a model's rank comes from its design or from a lucky setting.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from bench.trial import Trial
from bench.trial.report import Status


@dataclass
class Sensitivity:
    dataset: str
    model: str
    hparam: str
    metric: str
    means: dict[str, float]  # the hyperparameter's value (as text) -> mean final score
    counts: dict[str, int]  # trials behind each mean

    @property
    def spread(self) -> float:
        return max(self.means.values()) - min(self.means.values())


def final_value(metrics: dict[str, Any], key: str) -> float | None:
    if metrics.get("status") != Status.COMPLETED:
        return None
    value = metrics.get("final", {}).get(key)
    return float(value) if value is not None and math.isfinite(value) else None


def sensitivities(
    trials: list[tuple[Trial, dict[str, Any]]], primary: dict[str, str]
) -> list[Sensitivity]:
    """Every (dataset, model, hyperparameter) whose grid varies the hyperparameter, measured on
    the dataset's primary metric (`primary`: dataset label -> metric key)."""
    groups: dict[tuple[str, str], list[tuple[Trial, dict[str, Any]]]] = defaultdict(list)
    for trial, metrics in trials:
        groups[(trial.dataset_label, trial.model_label)].append((trial, metrics))
    found = []
    for (dataset, model), members in groups.items():
        metric = primary.get(dataset)
        if metric is None:
            continue
        for hparam in sorted({k for trial, _ in members for k in trial.grid}):
            item = one_hparam(dataset, model, hparam, metric, members)
            if item is not None:
                found.append(item)
    return found


def one_hparam(
    dataset: str,
    model: str,
    hparam: str,
    metric: str,
    members: list[tuple[Trial, dict[str, Any]]],
) -> Sensitivity | None:
    by_value: dict[str, list[float]] = defaultdict(list)
    for trial, metrics in members:
        value = final_value(metrics, metric)
        if hparam in trial.grid and value is not None:
            by_value[json.dumps(trial.grid[hparam])].append(value)
    if len(by_value) < 2:
        return None
    return Sensitivity(
        dataset,
        model,
        hparam,
        metric,
        means={k: statistics.fmean(v) for k, v in by_value.items()},
        counts={k: len(v) for k, v in by_value.items()},
    )
