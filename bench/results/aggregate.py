"""Aggregation: a run's trial files grouped over seeds into leaderboard rows (mean, std and n of
every final metric, the best value of the ranking metric over each trial's evaluations and the
step it came at, and what the trials cost in time), ranked per dataset by its primary metric. Data
only; rendering is in bench.report."""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.direction import better, rank_sign
from bench.results.folder import RunFolder
from bench.results.sensitivity import Sensitivity, sensitivities
from bench.trial import Trial
from bench.trial.report import Status


@dataclass
class Row:
    """One leaderboard row: a (dataset, model, hyperparameter variant) over its seeds."""

    dataset: str
    model: str
    variant: str
    seeds: int
    statuses: dict[str, int]
    values: dict[str, list[float]]  # metric key -> final values of the completed seeds
    errors: list[str]
    rank: int | None = None
    primary: str | None = None  # the metric key the row is ranked by
    direction: str | None = None  # the primary key's "min" | "max"
    runs: list[dict[str, Any]] = field(default_factory=list)  # metrics.json of completed seeds
    model_name: str = ""  # the registered model (`model` is its label); "" for bare samples

    def mean(self, key: str) -> float:
        vals = self.values.get(key, [])
        return statistics.fmean(vals) if vals else math.nan

    def std(self, key: str) -> float:
        vals = self.values.get(key, [])
        return statistics.stdev(vals) if len(vals) > 1 else math.nan

    @property
    def completed(self) -> int:
        return self.statuses.get(Status.COMPLETED, 0)

    @property
    def protocol(self) -> dict[str, Any]:
        """The measurement protocol its completed seeds share (a key whose value differs between
        them reads "varies"; runs written before protocols were recorded have none)."""
        return common_protocol([m.get("protocol") or {} for m in self.runs])

    def best(self) -> list[tuple[float, int]]:
        """Per completed seed, the best value of the primary metric over its evaluations and the
        step of that evaluation (the earliest on a tie, as the trial's kept best model)."""
        if self.primary is None or self.direction is None:
            return []
        found = (best_of(m.get("evaluations", []), self.primary, self.direction) for m in self.runs)
        return [b for b in found if b is not None]

    def cost(self, key: str) -> float:
        """Mean over the completed seeds of one figure of their `timing` (NaN when unknown)."""
        values = [v for v in map(cost_of, self.runs, [key] * len(self.runs)) if v is not None]
        return statistics.fmean(values) if values else math.nan

    def top_metric(self) -> tuple[str, float] | None:
        """The metric that took the most evaluation time, with its mean seconds per trial."""
        seconds: dict[str, list[float]] = {}
        for metrics in self.runs:
            for name, value in (metrics.get("timing") or {}).get("metrics_s", {}).items():
                seconds.setdefault(name, []).append(value)
        if not seconds:
            return None
        name = max(seconds, key=lambda n: sum(seconds[n]))
        return name, statistics.fmean(seconds[name])


@dataclass
class Leaderboard:
    title: str
    rows: list[Row]
    directions: dict[str, str]  # the ranked table's keys -> "min" | "max", in display order
    incomplete: str | None = None  # why the run is not finished, when it is not
    # Tables of their own (Metric.section, e.g. "Training stability") -> key -> direction
    sections: dict[str, dict[str, str]] = field(default_factory=dict)
    sensitivity: list[Sensitivity] = field(default_factory=list)

    @property
    def keys(self) -> list[str]:
        """Every key, the ranked table's first, then each section's."""
        return list(self.directions) + [k for keys in self.sections.values() for k in keys]

    def direction(self, key: str) -> str:
        found = [keys[key] for keys in (self.directions, *self.sections.values()) if key in keys]
        return found[0]

    def datasets(self) -> list[str]:
        return list(dict.fromkeys(row.dataset for row in self.rows))

    def keys_for(self, dataset: str, section: str | None = None) -> list[str]:
        """The keys of the ranked table (or of `section`) that a row of `dataset` has."""
        keys = self.directions if section is None else self.sections.get(section, {})
        return self._present(dataset, keys)

    def protocol(self, dataset: str) -> dict[str, Any]:
        """The measurement protocol every row of `dataset` shares (see Row.protocol)."""
        return common_protocol([r.protocol for r in self.rows if r.dataset == dataset and r.runs])

    def _present(self, dataset: str, keys: dict[str, str]) -> list[str]:
        """Those of `keys`, in order, that some row of `dataset` has a value for."""
        present = {k for row in self.rows if row.dataset == dataset for k in row.values}
        return [k for k in keys if k in present]

    def to_csv(self, cost: bool = True) -> str:
        """One line per row; `cost=False` leaves out the wall-time columns, which differ between
        two runs that give the same scores."""
        buffer = io.StringIO()
        head = ["rank", "dataset", "model", "variant", "seeds", "completed", "statuses"]
        head += [f"{k}_{s}" for k in self.keys for s in ("mean", "std", "n")]
        head += ["ranked_by", "best_mean", "best_std", "best_steps", "protocol"]
        head += list(COST_COLUMNS) if cost else []
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(head)
        for row in self.rows:
            cells = [row.rank or "", row.dataset, row.model, row.variant, row.seeds, row.completed]
            cells.append(status_text(row.statuses))
            for key in self.keys:
                cells += [
                    fmt_csv(row.mean(key)),
                    fmt_csv(row.std(key)),
                    len(row.values.get(key, [])),
                ]
            cells += best_cells(row) + [json.dumps(row.protocol, sort_keys=True)]
            cells += cost_cells(row) if cost else []
            writer.writerow(cells)
        return buffer.getvalue()


COST_COLUMNS = ("s_per_trial", "steps_per_s", "evaluate_share", "top_metric", "top_metric_s")


def best_cells(row: Row) -> list[Any]:
    """ranked_by, best_mean, best_std, best_steps (each seed's step, ';'-separated)."""
    best = row.best()
    values = [value for value, _ in best]
    mean = statistics.fmean(values) if values else math.nan
    std = statistics.stdev(values) if len(values) > 1 else math.nan
    steps = ";".join(str(step) for _, step in best)
    return [row.primary or "", fmt_csv(mean), fmt_csv(std), steps]


def cost_cells(row: Row) -> list[Any]:
    top = row.top_metric()
    return [
        fmt_csv(row.cost("wall_s")),
        fmt_csv(row.cost("steps_per_s")),
        fmt_csv(row.cost("evaluate_share")),
        top[0] if top else "",
        fmt_csv(top[1]) if top else "",
    ]


def best_of(
    evaluations: list[dict[str, Any]], key: str, direction: str
) -> tuple[float, int] | None:
    """(value, step) of the best finite `key` among `evaluations`, the earliest on a tie."""
    best: tuple[float, int] | None = None
    for evaluation in evaluations:
        value = evaluation.get("metrics", {}).get(key)
        if value is None or not math.isfinite(value):
            continue
        if best is None or better(value, best[0], direction):
            best = (float(value), int(evaluation["step"]))
    return best


def cost_of(metrics: dict[str, Any], key: str) -> float | None:
    """A trial's seconds ("wall_s"), steps per second or share of its time spent evaluating
    ("evaluate_share"), from its timing; runs written before timing existed know only wall_s."""
    timing = metrics.get("timing") or {}
    wall = timing.get("wall_s", metrics.get("wall_s"))
    if key == "evaluate_share":
        evaluating = timing.get("evaluate_s")
        return evaluating / wall if evaluating is not None and wall else None
    return wall if key == "wall_s" else timing.get(key)


def fmt_csv(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.6g}"


def status_text(statuses: dict[str, int]) -> str:
    return ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))


def aggregate(run_dir: Path) -> Leaderboard:
    """Group a run's trials over seeds and rank each dataset's rows by its first metric."""
    from bench.metrics.base import METRICS

    folder = RunFolder(run_dir)
    meta = folder.meta()
    groups: dict[tuple[str, str, str], Row] = {}
    tables: dict[str | None, dict[str, str]] = {None: {}}
    over_training = {k for _, m in METRICS if m.over_history for k in m.directions}
    trials = folder.pairs()
    for trial, metrics in trials:
        # the primary space's keys first, then each further space's (`fid@dinov2`)
        for space in (None, *trial.further_spaces):
            for name in trial.metrics:
                metric = METRICS.get(name)
                keys = metric.keys_in(space)
                if metric.keys_vary:  # only those this trial reported, in the metric's order
                    keys = {k: v for k, v in keys.items() if k in metrics.get("final", {})}
                if keys or space is None:
                    tables.setdefault(metric.section, {}).update(keys)
        row = groups.setdefault(trial.group_key, new_row(trial))
        add_trial(row, metrics, over_training)
    directions = tables.pop(None)
    rows = rank(list(groups.values()), directions)
    primary = {r.dataset: r.primary for r in rows if r.primary}
    finished = sum(row.seeds - row.statuses.get(Status.PENDING, 0) for row in rows)
    incomplete = None
    if meta.get("status") != "complete":
        incomplete = (
            f"run status '{meta.get('status')}': {finished} of {meta['trials']} trials finished"
        )
    title = f"{meta['suite']} / {meta['run_id']}"
    board = Leaderboard(title, rows, directions, incomplete, tables)
    board.sensitivity = sensitivities(trials, primary)
    return board


def new_row(trial: Trial) -> Row:
    return Row(
        trial.dataset_label, trial.model_label, trial.variant, 0, {}, {}, [], model_name=trial.model
    )


def common_protocol(protocols: list[dict[str, Any]]) -> dict[str, Any]:
    """The keys of the given protocols with their value where all agree, "varies" where not;
    empty when none was recorded."""
    recorded = [p for p in protocols if p]
    keys = list(dict.fromkeys(k for p in recorded for k in p))
    return {
        k: recorded[0][k] if all(p.get(k) == recorded[0].get(k) for p in recorded) else "varies"
        for k in keys
    }


def add_trial(row: Row, metrics: dict[str, Any], over_training: set[str]) -> None:
    """Count a trial into its row: every final value of a completed trial; of a diverged one,
    the metrics over training (how often and how a model diverges is part of its record)."""
    status = Status.of(metrics.get("status"))
    status = status if status.final else Status.PENDING
    row.seeds += 1
    row.statuses[status] = row.statuses.get(status, 0) + 1
    if metrics.get("error"):
        row.errors.append(f"{metrics['trial_id']}: {metrics['error']}")
    final = metrics.get("final", {})
    values = dict(final) if status == Status.COMPLETED else {}
    if status == Status.DIVERGED:
        values = {k: v for k, v in final.items() if k in over_training}
    if status == Status.COMPLETED:
        row.runs.append(metrics)
    for key, value in values.items():
        if value is not None and math.isfinite(value):
            row.values.setdefault(key, []).append(float(value))


def rank(rows: list[Row], directions: dict[str, str]) -> list[Row]:
    """Order rows by dataset (first appearance), then by the dataset's primary metric."""
    order = list(dict.fromkeys(row.dataset for row in rows))
    ranked: list[Row] = []
    for dataset in order:
        members = [row for row in rows if row.dataset == dataset]
        primary = next((k for k in directions if any(k in r.values for r in members)), None)
        if primary:
            sign = rank_sign(directions[primary])
            scored = [r for r in members if r.values.get(primary)]
            unscored = [r for r in members if not r.values.get(primary)]
            scored.sort(key=lambda r: sign * r.mean(primary))
            members = scored + unscored
            for i, r in enumerate(scored, start=1):
                r.rank, r.primary = i, primary
            for r in members:
                r.primary, r.direction = primary, directions[primary]
        ranked.extend(members)
    return ranked
