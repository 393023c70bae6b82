"""`bench evaluate --run`: every completed trial of a finished run measured again from its kept
model (with a metric added since, say), without retraining, into a new run-shaped folder beside
the run's own files, which are never touched:

    RUN_DIR/evaluations/<stamp>/run.json  leaderboard.md  leaderboard.csv
                                trials/<trial-id>/config.json  metrics.json

Each config.json is the trial's own with `metrics` set to what was measured, so `bench
leaderboard` reads the folder like any run. Every problem of the input (not a run, a metric that
does not apply to some trial, a trial without the kept model asked for) is found before anything
is measured, and the folder appears whole or not at all (built under a temporary name, renamed).
"""

from __future__ import annotations

import csv
import json
import shutil
import time
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import torch
import yaml

from bench.errors import BenchError
from bench.io import write_json
from bench.registry import suggest
from bench.report.markdown import write_leaderboard
from bench.results.aggregate import Leaderboard, aggregate
from bench.results.layout import RUN_FILE, SUITE_FILE, TRIALS_DIR, find_run, load_trials
from bench.results.record import now
from bench.trial import Trial
from bench.trial.evaluate import DatasetAssets, Evaluation, Evaluator, prepare_dataset
from bench.trial.kept import KEPT_FILES, kept_path, open_kept

EVALUATIONS_DIR = "evaluations"
SHOWN_PROBLEMS = 3  # problems named in the one-paragraph error; the rest are counted


@dataclass
class Remeasure:
    """What will be measured: the run, which kept state, and each trial with its metrics."""

    run_dir: Path
    which: str
    trials: list[tuple[Trial, dict[str, Any]]]  # every trial of the run, with its metrics.json
    measured: dict[str, list[str]]  # trial id of each completed trial -> metrics to measure
    reference: int  # real training points the metrics compare with, as in the run


def plan(run: Path, metrics: list[str] | None, which: str) -> Remeasure:
    """Check everything (run folder, metric names, metrics against each trial's dataset and
    model, kept files, history for metrics over training) before anything is measured."""
    from bench.plugins import load_registries

    if which not in KEPT_FILES:
        raise BenchError(
            f"--which '{which}' names no kept model", fix=f"use one of {', '.join(KEPT_FILES)}"
        )
    run_dir = find_run(run).resolve()
    load_registries()
    check_names(metrics)
    trials = load_trials(run_dir)
    completed = [(t, m) for t, m in trials if m.get("status") == "completed"]
    if not completed:
        raise BenchError(
            f"{run_dir} has no completed trial to measure",
            fix="measure a run whose trials completed (`bench leaderboard` shows their status)",
        )
    measured = {t.trial_id: list(metrics or t.metrics) for t, _ in completed}
    problems = [p for t, _ in completed for p in trial_problems(run_dir, t, measured, which)]
    if problems:
        shown = "; ".join(problems[:SHOWN_PROBLEMS])
        more = len(problems) - SHOWN_PROBLEMS
        shown += f" (and {more} more)" if more > 0 else ""
        raise BenchError(
            f"cannot measure {run_dir} again: {shown}",
            fix="measure with metrics that apply to every trial of the run (`bench list metrics`), "
            "and the kept model each trial has (--which final or best); nothing was written",
        )
    return Remeasure(run_dir, which, trials, measured, reference_count(run_dir, completed))


def check_names(metrics: list[str] | None) -> None:
    from bench.metrics import METRICS

    for name in metrics or []:
        if name not in METRICS.names():
            raise BenchError(
                f"unknown metric '{name}'." + suggest(name, METRICS.names()),
                where="--metrics",
                fix="use names from `bench list metrics`, comma-separated",
            )


def trial_problems(
    run_dir: Path, trial: Trial, measured: dict[str, list[str]], which: str
) -> list[str]:
    """Why this trial cannot be measured as asked (empty when it can)."""
    from bench.data import DATASETS
    from bench.metrics import METRICS
    from bench.models import MODELS
    from bench.probes import unmeasurable

    folder = run_dir / TRIALS_DIR / trial.trial_id
    problems = []
    try:
        kept_path(folder, which)
    except BenchError as exc:
        problems.append(exc.what)
    dataset_cls = DATASETS.get(trial.dataset)
    dataset = dataset_cls(dataset_cls.Params(**trial.dataset_params))
    model_cls = MODELS.get(trial.model)
    for name in measured[trial.trial_id]:
        metric = METRICS.get(name)
        reason = metric.applies(dataset.eval_spec, dataset.info) or unmeasurable(metric, model_cls)
        if reason is None and metric.inputs == "history" and not (folder / "history.csv").is_file():
            reason = "it is measured on the training history, and history.csv is missing"
        if reason is not None:
            problems.append(
                f"metric '{name}' does not apply to trial {trial.trial_id} "
                f"({trial.model_label} on {trial.dataset_label}): {reason}"
            )
    return problems


def reference_count(run_dir: Path, completed: list[tuple[Trial, dict]]) -> int:
    """The reference set's size the run measured against: the suite's eval_samples (what the
    driver prepared each dataset with), else the first trial's."""
    try:
        suite = yaml.safe_load((run_dir / SUITE_FILE).read_text())
        return int(suite["budget"]["eval_samples"])
    except (OSError, KeyError, TypeError, ValueError, yaml.YAMLError):
        return int(completed[0][0].budget["eval_samples"])


def remeasure(
    run: Path, metrics: list[str] | None = None, which: str = "final"
) -> tuple[Path, Leaderboard]:
    """Measure a finished run's trials again from their kept models; the new folder and its
    leaderboard (ranked like the run's own)."""
    started = now()
    todo = plan(run, metrics, which)
    assets = prepare(todo)  # a dataset that cannot be prepared fails before anything is written
    target = free_name(todo.run_dir / EVALUATIONS_DIR, datetime.now().strftime("%Y%m%d-%H%M%S"))
    building = target.with_name(f".{target.name}.partial")
    try:
        write_folder(todo, assets, building, target.name, started)
        board = aggregate(building)
        write_leaderboard(building, board)
        building.rename(target)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return target, board


def free_name(parent: Path, stamp: str) -> Path:
    """evaluations/<stamp>, or <stamp>-2, -3 ... when one was written within the same second."""
    target, n = parent / stamp, 1
    while target.exists():
        n += 1
        target = parent / f"{stamp}-{n}"
    return target


def prepare(todo: Remeasure) -> dict[str, DatasetAssets]:
    """Each measured dataset once, with the run's reference set."""
    assets: dict[str, DatasetAssets] = {}
    for trial, _ in todo.trials:
        if trial.trial_id in todo.measured and trial.dataset_label not in assets:
            assets[trial.dataset_label] = prepare_dataset(
                trial.dataset, trial.dataset_params, trial.dataset_label, todo.reference
            )
    return assets


def write_folder(
    todo: Remeasure, assets: dict[str, DatasetAssets], folder: Path, stamp: str, started: str
) -> None:
    meta = load_meta(todo.run_dir)
    counts: dict[str, int] = {}
    evaluators: dict[tuple, Evaluator] = {}
    for trial, original in todo.trials:
        names = todo.measured.get(trial.trial_id)
        if names is None:  # not completed: on record as it was, measured from nothing
            written = trial
            metrics = {k: original.get(k) for k in ("trial_id", "status", "step", "error")}
            metrics.update(final={}, evaluations=[])
        else:
            written = replace(trial, metrics=tuple(names))
            metrics = measure(todo, trial, names, assets[trial.dataset_label], evaluators)
        status = metrics.get("status") or "pending"
        counts[status] = counts.get(status, 0) + 1
        write_json(folder / TRIALS_DIR / trial.trial_id / "config.json", written.to_dict())
        write_json(folder / TRIALS_DIR / trial.trial_id / "metrics.json", metrics)
    write_json(
        folder / RUN_FILE,
        {
            "suite": meta.get("suite", todo.trials[0][0].suite),
            "run_id": f"{meta.get('run_id', todo.run_dir.name)} evaluation {stamp} "
            f"({todo.which} models)",
            "status": "complete",
            "started": started,
            "finished": now(),
            "trials": len(todo.trials),
            "counts": counts,
            "measured_from": {"run": str(todo.run_dir), "which": todo.which},
        },
    )


def load_meta(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / RUN_FILE).read_text())


def measure(
    todo: Remeasure,
    trial: Trial,
    names: list[str],
    assets: DatasetAssets,
    evaluators: dict[tuple, Evaluator],
) -> dict[str, Any]:
    """One trial's kept model measured exactly as its own evaluations were: the evaluator fits
    the model's sampler on the training data, then draws eval_samples with the trial's seed."""
    folder = todo.run_dir / TRIALS_DIR / trial.trial_id
    _, model, kept = open_kept(folder, todo.which)
    n = int(trial.budget["eval_samples"])
    key = (trial.dataset_label, tuple(names), n)
    if key not in evaluators:
        evaluators[key] = Evaluator(assets, names, n, torch.device("cpu"))
    began = time.perf_counter()
    evaluation = evaluators[key](model, kept["step"], seed=trial.seed)
    if evaluators[key].history_metrics:
        evaluation = evaluators[key].finish(evaluation, read_history(folder), model)
    seconds = time.perf_counter() - began
    return trial_metrics(trial, evaluation, kept, todo.which, seconds)


def trial_metrics(
    trial: Trial, evaluation: Evaluation, kept: dict[str, Any], which: str, seconds: float
) -> dict[str, Any]:
    spent = getattr(evaluation, "seconds", None) or {}
    return {
        "trial_id": trial.trial_id,
        "status": "completed",
        "step": kept["step"],
        "steps_budget": trial.budget["steps"],
        "error": None,
        "final": evaluation.values,
        "not_computable": evaluation.not_computable,
        "evaluations": [
            {
                "step": kept["step"],
                "metrics": evaluation.values,
                "not_computable": evaluation.not_computable,
            }
        ],
        "measured_from": {"which": which, "file": KEPT_FILES[which], "step": kept["step"]},
        "timing": {
            "evaluate_s": round(seconds, 4),
            "metrics_s": {k: round(v, 4) for k, v in spent.items()},
            "wall_s": round(seconds, 4),
        },
    }


def read_history(folder: Path) -> list[dict[str, float]]:
    """history.csv back as the rows the trial logged (a key a row lacked is an empty cell)."""
    with open(folder / "history.csv", newline="") as handle:
        return [
            {k: int(v) if k == "step" else float(v) for k, v in row.items() if v != ""}
            for row in csv.DictReader(handle)
        ]
