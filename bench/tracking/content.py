"""What bench tells wandb about a trial and a suite run, as plain values (no wandb here): the
stable run ids, a trial's config, the direction of each evaluation metric, the rows of its history,
its summary, and the leaderboard's tables. The live tracker and the rebuild from disk both log
these, so a run logged live and the same run rebuilt by `bench sync` hold the same things."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from typing import Any

from bench.direction import best_of
from bench.errors import BenchError
from bench.results.aggregate import Leaderboard, Row
from bench.results.record import TrialRecord
from bench.trial import Trial, slug
from bench.trial.report import Status

LEADERBOARD = "leaderboard"  # the ledger's name of a suite run's leaderboard run
# wandb summary prefix of a leaderboard section's keys (Metric.section); others get a slug of it
SECTION_PREFIX = {"Training stability": "stability"}
COMPLETED = Status.COMPLETED
UNFINISHED = "interrupted"  # what a trial the driver never finished is called in wandb


def stable_id(run_id: str, name: str) -> str:
    """The wandb id of a trial (or of the leaderboard, name=LEADERBOARD) of one suite run: the
    same every time it is logged, live, on resume or by `bench sync`, so wandb continues the run
    instead of starting another. wandb ids take [a-z0-9]; 16 hex digits do not collide."""
    return hashlib.sha256(f"{run_id}\n{name}".encode()).hexdigest()[:16]


def row_key(trial: Trial) -> str:
    """The leaderboard row a trial counts into, as one filterable text."""
    return f"{trial.dataset_label} / {trial.model_label} / {trial.variant}"


def trial_config(trial: Trial, run_id: str) -> dict[str, Any]:
    """Every hyperparameter, and the trial's identity, so runs filter and group by any of them."""
    return {
        **trial.hparams,
        "suite": trial.suite,
        "run_id": run_id,
        "row": row_key(trial),
        "model": trial.model,
        "model_label": trial.model_label,
        "variant": trial.variant,
        "family": family_of(trial.model),
        "dataset": trial.dataset_label,
        "feature_space": feature_space_of(trial),
        "eval_samples": trial.budget.get("eval_samples"),
        "reference_samples": trial.budget.get("reference_samples"),
        "steps": trial.budget["steps"],
        "seed": trial.seed,
        # only when the suite lists them: configs of other trials stay as they were
        **({"feature_spaces": list(trial.feature_spaces)} if trial.feature_spaces else {}),
    }


def protocol_config(protocol: dict[str, Any]) -> dict[str, Any]:
    """The trial's measurement protocol as flat config keys (`protocol/feature_space`,
    `protocol/versions/torch`, ...), so runs measured differently can be told apart in wandb."""
    flat: dict[str, Any] = {}
    for key, value in protocol.items():
        if isinstance(value, dict):
            flat.update({f"protocol/{key}/{k}": v for k, v in value.items()})
        else:
            flat[f"protocol/{key}"] = value
    return flat


def family_of(model: str) -> str | None:
    """None for a model no longer registered (a plugin missing when an old run is synced)."""
    from bench.models import MODELS

    try:
        return MODELS.get(model).family
    except BenchError:
        return None


def feature_space_of(trial: Trial) -> str | None:
    """The primary feature space: the first of the suite's `feature_spaces`, else the dataset's."""
    from bench.data import DATASETS

    if trial.feature_spaces:
        return trial.feature_spaces[0]

    try:
        cls = DATASETS.get(trial.dataset)
        dataset = cls(cls.Params(**trial.dataset_params))
    except (BenchError, ValueError):  # gone, or its params changed since this run was made
        return None
    return dataset.eval_spec.feature_space  # static facts: nothing is loaded


def metric_keys(trial: Trial) -> tuple[dict[str, str], dict[str, str]]:
    """(evaluation keys, keys over the history) -> direction, of the trial's metrics. Keys over the
    history (training stability) are measured once at the end: a summary, never a curve."""
    from bench.metrics import METRICS
    from bench.metrics.base import metric_keys

    later = [name for name in trial.metrics if METRICS.get(name).over_history]
    evaluated = metric_keys([n for n in trial.metrics if n not in later], trial.further_spaces)
    return evaluated, metric_keys(later)


def section_of_key() -> dict[str, str]:
    """Key -> summary prefix, for keys of metrics with a leaderboard section of their own."""
    from bench.metrics import METRICS

    return {
        key: SECTION_PREFIX.get(metric.section, slug(metric.section).lower())
        for _, metric in METRICS
        if metric.section
        for key in metric.directions
    }


def history_rows(
    trial: Trial, rows: Iterable[dict[str, float]], evaluations: Iterable[dict[str, Any]]
) -> dict[int, dict[str, Any]]:
    """Training step -> what to log at it: `train/<key>` of the history rows and `eval/<key>` of
    the evaluations (wandb takes each step once, in order)."""
    evaluated, _ = metric_keys(trial)
    merged: dict[int, dict[str, Any]] = {}
    for row in rows:
        merged.setdefault(int(row["step"]), {}).update(
            {f"train/{k}": v for k, v in row.items() if k != "step"}
        )
    for evaluation in evaluations:
        values = {k: v for k, v in evaluation["metrics"].items() if k in evaluated}
        if values:
            step = int(evaluation["step"])
            merged.setdefault(step, {}).update({f"eval/{k}": v for k, v in values.items()})
    return dict(sorted(merged.items()))


def wandb_status(record: TrialRecord) -> str:
    from bench.results.record import FINAL

    # the plain word: wandb files an Enum under its name ("COMPLETED")
    return str(record.status) if record.status in FINAL else UNFINISHED


def tags(record: TrialRecord) -> list[str]:
    """A trial that did not complete is tagged with how it ended, to filter it out (or in)."""
    status = wandb_status(record)
    return [] if status == COMPLETED else [status]


def trial_summary(record: TrialRecord) -> dict[str, Any]:
    """status; for a completed trial final/<key> and best/<key> (+ best/<key>_step); stability
    keys under stability/<key> for a completed or diverged one. Others ran part of their budget:
    their values would drag a group's mean, so they keep only their curves and status."""
    status = wandb_status(record)
    summary: dict[str, Any] = {"status": status, "step": record.step}
    if record.error:
        summary["error"] = record.error.splitlines()[0]
    evaluated, over_history = metric_keys(record.trial)
    final = record.final["metrics"]
    kept = list(final) if status == COMPLETED else []
    if status == "diverged":  # how a model diverges is part of its record, as in the leaderboard
        kept = [key for key in final if key in over_history]
    prefixes = section_of_key()
    summary.update({f"{prefixes.get(key, 'final')}/{key}": final[key] for key in kept})
    if status == COMPLETED:
        summary.update(best_values(record.evaluations, evaluated))
    return summary


def best_values(evaluations: Sequence[dict[str, Any]], directions: dict[str, str]) -> dict:
    """best/<key> and best/<key>_step over the evaluations, in each key's direction."""
    best: dict[str, Any] = {}
    for key, direction in directions.items():
        seen = [
            (e["metrics"][key], e["step"])
            for e in evaluations
            if isinstance(e["metrics"].get(key), int | float) and math.isfinite(e["metrics"][key])
        ]
        if seen:
            value = best_of((v for v, _ in seen), direction)
            step = next(s for v, s in seen if v == value)  # the earliest on a tie
            best[f"best/{key}"], best[f"best/{key}_step"] = value, step
    return best


def fingerprint(record: TrialRecord) -> str:
    """What was logged of a trial, to tell whether its files on disk have moved on since."""
    return f"{record.status}@{record.step}:{len(record.evaluations)}"


# --- the leaderboard run -------------------------------------------------------------------------

Table = tuple[list[str], list[list[Any]]]  # columns, rows


def number(value: float | None) -> float | None:
    """NaN (no value, or a std of one seed) as an empty cell."""
    return None if value is None or not math.isfinite(value) else value


def board_table(board: Leaderboard, keys: Sequence[str]) -> Table:
    """Per leaderboard row: dataset, rank, model, variant, seeds ok, mean and std of keys."""
    columns = ["dataset", "rank", "model", "variant", "seeds ok"]
    columns += [f"{key} {stat}" for key in keys for stat in ("mean", "std")]
    return columns, [row_cells(row, keys) for row in board.rows]


def row_cells(row: Row, keys: Sequence[str]) -> list[Any]:
    cells: list[Any] = [row.dataset, row.rank, row.model, row.variant]
    cells.append(f"{row.completed}/{row.seeds}")
    for key in keys:
        cells += [number(row.mean(key)), number(row.std(key))]
    return cells


def sensitivity_table(board: Leaderboard) -> Table:
    columns = ["dataset", "model", "hyperparameter", "metric", "value", "mean", "n", "range"]
    rows = [
        [s.dataset, s.model, s.hparam, s.metric, value, number(mean), s.counts[value], s.spread]
        for s in board.sensitivity
        for value, mean in s.means.items()
    ]
    return columns, rows


OVER_TRAINING = ("series", "trend_fit")  # per-step detail: its own table


def reproduction_table(comparisons: Sequence[dict[str, Any]]) -> Table:
    """Published against measured, one row per comparison (Comparison.to_dict())."""
    columns = [c for c in (comparisons[0] if comparisons else []) if c not in OVER_TRAINING]
    rows = [[cell(c.get(column)) for column in columns] for c in comparisons]
    return columns, rows


def reproduction_curve_table(comparisons: Sequence[dict[str, Any]]) -> Table:
    """The verdict at every evaluation step (bench reproduce's reproduction.json `series`), one
    row per (entry, step), with the published value beside: wandb plots it per entry."""
    columns = ["entry", "model", "dataset", "metric", "step", "n", "mean", "se", "z", "verdict"]
    columns += ["published", "published_se", "trend"]
    rows = [
        [
            f"{c['model']} / {c['dataset']} / {c['metric']}",
            c["model"],
            c["dataset"],
            c["metric"],
            *(cell(point.get(k)) for k in ("step", "n", "mean", "se", "z", "verdict")),
            cell(c.get("published")),
            cell(c.get("published_se")),
            c.get("trend"),
        ]
        for c in comparisons
        for point in c.get("series") or ()
    ]
    return columns, rows


def cell(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return "; ".join(map(str, value))
    return number(value) if isinstance(value, float) else value


def leaderboard_tables(board: Leaderboard, comparisons: Sequence[dict[str, Any]]) -> dict:
    """Table name -> (columns, rows): the ranked leaderboard, each section (stability), the
    hyperparameter sensitivity, and the reproduction comparison when there is one."""
    tables = {LEADERBOARD: board_table(board, list(board.directions))}
    for section, keys in board.sections.items():
        tables[SECTION_PREFIX.get(section, slug(section).lower())] = board_table(board, list(keys))
    if board.sensitivity:
        tables["sensitivity"] = sensitivity_table(board)
    if comparisons:
        tables["reproduction"] = reproduction_table(comparisons)
        if any(c.get("series") for c in comparisons):
            tables["reproduction_over_training"] = reproduction_curve_table(comparisons)
    return tables
