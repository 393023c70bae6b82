"""Trial: one training run, the value every layer shares (the suite expands into trials, the
workers train them, the store files them, reports group them). This module imports nothing of
bench; the package's other modules are the worker that runs one trial: train.py (the loop),
evaluate.py (sample, probes, feature space, metrics), checkpoint.py, kept.py, pictures.py."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

# The fields of a config.json that are mappings: anything else there is a damaged file.
MAPPINGS = ("dataset_params", "hparams", "grid", "budget", "resources")


@dataclass(frozen=True)
class Trial:
    """One training run; `to_dict()` is its config.json and reproduces it alone."""

    trial_id: str
    suite: str
    model: str
    model_label: str
    dataset: str
    dataset_label: str
    dataset_params: dict
    hparams: dict
    grid: dict
    seed: int
    metrics: tuple[str, ...]
    budget: dict
    resources: dict
    # The feature spaces its samples are measured in, the first the primary one (plain metric
    # keys), when the suite lists them (`feature_spaces:`); None: the dataset's own space. Left
    # out of config.json when None, so configs written before it existed stay as they were.
    feature_spaces: tuple[str, ...] | None = None

    def to_dict(self) -> dict:
        out = {f.name: copy.deepcopy(getattr(self, f.name)) for f in fields(self)}
        out["metrics"] = list(self.metrics)
        for name in OPTIONAL:
            if out[name] is None:
                del out[name]
        if self.feature_spaces is not None:
            out["feature_spaces"] = list(self.feature_spaces)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> Trial:
        """Inverse of `to_dict`; keys it does not know are ignored, missing ones are an error."""
        names = [f.name for f in fields(cls)]
        missing = [n for n in names if n not in data and n not in OPTIONAL]
        if missing:
            raise ValueError(f"trial config lacks {', '.join(missing)}")
        wrong = [n for n in MAPPINGS if not isinstance(data[n], Mapping)]
        if wrong:
            raise ValueError(f"trial config's {', '.join(wrong)} should be a mapping ({{...}})")
        values = {n: copy.deepcopy(data[n]) for n in names if n in data}
        values["metrics"] = tuple(values["metrics"])
        if values.get("feature_spaces") is not None:
            values["feature_spaces"] = tuple(values["feature_spaces"])
        return cls(**values)

    @property
    def further_spaces(self) -> tuple[str, ...]:
        """The feature spaces after the primary one: their metric keys carry the space's name
        (`fid@dinov2`, bench.metrics.base.space_key)."""
        return self.feature_spaces[1:] if self.feature_spaces else ()

    @property
    def variant(self) -> str:
        """The hyperparameters that vary along this entry's grid, as 'k=v, ...' ('-' if none)."""
        return ", ".join(f"{k}={v}" for k, v in sorted(self.grid.items())) or "-"

    @property
    def group_key(self) -> tuple[str, str, str]:
        """Trials that differ only by seed share this key (one leaderboard row)."""
        return (self.dataset_label, self.model_label, json.dumps(self.grid, sort_keys=True))


OPTIONAL = ("feature_spaces",)  # fields config.json holds only when they are set


def variant_hash(model: str, hparams: dict, dataset: str, params: dict) -> str:
    """Six hex digits that tell apart the grid points of one model entry on one dataset."""
    blob = json.dumps([model, hparams, dataset, params], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:6]


def slug(text: str, limit: int = 48) -> str:
    """`text` as a folder-name part: letters, digits, '_', '.' and '-' only, at most `limit`."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_.-")
    return cleaned[:limit].rstrip("_.-") or "x"


def evaluation_steps(budget: Mapping[str, Any]) -> list[int]:
    """The steps a trial is evaluated at, ascending, the last step always among them: every
    `eval_every` steps; or the listed `eval_at` steps; or `eval_schedule: {log: n, first: s}`,
    n steps spaced evenly on a log scale from s (default steps/100) to the last step."""
    steps = int(budget["steps"])
    if budget.get("eval_at"):
        chosen = {int(s) for s in budget["eval_at"]}
    elif budget.get("eval_schedule"):
        chosen = set(log_spaced(steps, **budget["eval_schedule"]))
    else:
        every = int(budget["eval_every"])
        chosen = set(range(every, steps + 1, every))
    return sorted({s for s in chosen if 1 <= s <= steps} | {steps})


def log_spaced(steps: int, log: int, first: int | None = None) -> list[int]:
    """`log` whole steps from `first` to `steps`, evenly spaced on a log scale (rounding may
    merge neighbours at the low end)."""
    start = first or max(1, steps // 100)
    if log < 2 or start >= steps:
        return [steps]
    ratio = steps / start
    return sorted({round(start * ratio ** (i / (log - 1))) for i in range(log)})
