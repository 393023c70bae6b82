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

import shutil
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import torch

from bench.errors import BenchError
from bench.registry import suggest
from bench.report.markdown import write_leaderboard
from bench.results.aggregate import Leaderboard, aggregate
from bench.results.folder import RunFolder, load_trials
from bench.results.layout import HISTORY_FILE, find_run
from bench.results.record import Status, TrialRecord, now
from bench.trial import Trial
from bench.trial.evaluate import DatasetAssets, Evaluation, Evaluator, prepare_dataset
from bench.trial.kept import KEPT_FILES, open_kept

EVALUATIONS_DIR = "evaluations"
SHOWN_PROBLEMS = 3  # problems named in the one-paragraph error; the rest are counted


@dataclass
class Remeasure:
    """What will be measured: the run, which kept state, and each trial with its metrics."""

    run_dir: Path
    which: str
    trials: list[tuple[Trial, dict[str, Any]]]  # every trial of the run, with its metrics.json
    measured: dict[str, list[str]]  # trial id of each trial to measure -> metrics to measure
    # metrics asked for that some trials were not measured with, as sentences: a metric that does
    # not apply to a trial (the likelihood of a GAN) is measured on the trials it applies to
    skipped: list[str] = field(default_factory=list)


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
    completed = [(t, m) for t, m in trials if m.get("status") == Status.COMPLETED]
    if not completed:
        raise BenchError(
            f"{run_dir} has no completed trial to measure",
            fix="measure a run whose trials completed (`bench leaderboard` shows their status)",
        )
    if metrics is None:  # each trial's own: refused wherever one cannot be measured again
        measured = {t.trial_id: list(t.metrics) for t, _ in completed}
        skipped: list[str] = []
        problems = [
            not_applying(t, name, reason)
            for t, _ in completed
            for name in t.metrics
            if (reason := why_not(run_dir, t, name)) is not None
        ]
    else:
        measured, skipped, problems = where_they_apply(run_dir, [t for t, _ in completed], metrics)
    problems += [
        problem
        for t, _ in completed
        if t.trial_id in measured and (problem := kept_problem(run_dir, t, which)) is not None
    ]
    if problems:
        shown = "; ".join(problems[:SHOWN_PROBLEMS])
        more = len(problems) - SHOWN_PROBLEMS
        shown += f" (and {more} more)" if more > 0 else ""
        raise BenchError(
            f"cannot measure {run_dir} again: {shown}",
            fix="measure with metrics that apply to the run's trials (`bench list metrics`), "
            "and the kept model each trial has (--which final or best); nothing was written",
        )
    return Remeasure(run_dir, which, trials, measured, skipped)


def check_names(metrics: list[str] | None) -> None:
    from bench.metrics import METRICS

    for name in metrics or []:
        if name not in METRICS.names():
            raise BenchError(
                f"unknown metric '{name}'." + suggest(name, METRICS.names()),
                where="--metrics",
                fix="use names from `bench list metrics`, comma-separated",
            )


def where_they_apply(
    run_dir: Path, completed: list[Trial], metrics: list[str]
) -> tuple[dict[str, list[str]], list[str], list[str]]:
    """The metrics asked for, per completed trial, on the trials each applies to: (trial id ->
    metrics, for the trials at least one applies to; what was left out, as sentences; a problem
    for each metric that applies to no trial of the run)."""
    measured: dict[str, list[str]] = {t.trial_id: [] for t in completed}
    skipped, problems = [], []
    for name in metrics:
        reasons = {t.trial_id: why_not(run_dir, t, name) for t in completed}
        refused = [t for t in completed if reasons[t.trial_id] is not None]
        for trial in completed:
            if reasons[trial.trial_id] is None:
                measured[trial.trial_id].append(name)
        if not refused:
            continue
        said = not_applying(refused[0], name, reasons[refused[0].trial_id])
        if len(refused) == len(completed):
            others = len(completed) - 1
            problems.append(said + (f", nor to the run's {others} other trials" if others else ""))
        else:
            skipped.append(f"{said}; it was not measured on that trial and {len(refused) - 1} more")
    return {t: names for t, names in measured.items() if names}, skipped, problems


def why_not(run_dir: Path, trial: Trial, name: str) -> str | None:
    """Why metric `name` cannot measure this trial's kept model again (None when it can)."""
    from bench.data import DATASETS
    from bench.metrics import METRICS
    from bench.models import MODELS
    from bench.probes import unmeasurable

    dataset_cls = DATASETS.get(trial.dataset)
    dataset = dataset_cls(dataset_cls.Params(**trial.dataset_params))
    metric = METRICS.get(name)
    reason = metric.applies(dataset.eval_spec, dataset.info) or unmeasurable(
        metric, MODELS.get(trial.model)
    )
    folder = RunFolder(run_dir).trial_dir(trial.trial_id)
    if reason is None and metric.over_history and not (folder / HISTORY_FILE).is_file():
        reason = "it is measured on the training history, and history.csv is missing"
    return reason


def not_applying(trial: Trial, name: str, reason: str | None) -> str:
    return (
        f"metric '{name}' does not apply to trial {trial.trial_id} ({trial.model_label} on "
        f"{trial.dataset_label}): {reason}"
    )


def kept_problem(run_dir: Path, trial: Trial, which: str) -> str | None:
    """Why the kept model asked for cannot be read, checked against its model, up front."""
    try:
        open_kept(RunFolder(run_dir).trial_dir(trial.trial_id), which)
    except BenchError as exc:
        return f"{exc.where}: {exc.what}" if exc.where else exc.what
    return None


def remeasure(
    run: Path, metrics: list[str] | None = None, which: str = "final"
) -> tuple[Path, Leaderboard, list[str]]:
    """Measure a finished run's trials again from their kept models; the new folder, its
    leaderboard (ranked like the run's own) and what was not measured where (as sentences)."""
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
    return target, board, todo.skipped


def free_name(parent: Path, stamp: str) -> Path:
    """evaluations/<stamp>, or <stamp>-2, -3 ... when one was written within the same second."""
    target, n = parent / stamp, 1
    while target.exists():
        n += 1
        target = parent / f"{stamp}-{n}"
    return target


def prepare(todo: Remeasure) -> dict[str, DatasetAssets]:
    """Each measured dataset once, with the reference set its trials were measured against."""
    assets: dict[str, DatasetAssets] = {}
    for trial, _ in todo.trials:
        if trial.trial_id in todo.measured and trial.dataset_label not in assets:
            assets[trial.dataset_label] = prepare_dataset(
                trial.dataset,
                trial.dataset_params,
                trial.dataset_label,
                trial.budget["reference_samples"],
                spaces=trial.feature_spaces,
            )
    return assets


def write_folder(
    todo: Remeasure, assets: dict[str, DatasetAssets], folder: Path, stamp: str, started: str
) -> None:
    meta, written_to = RunFolder(todo.run_dir).meta(), RunFolder(folder)
    counts: dict[str, int] = {}
    evaluators: dict[tuple, Evaluator] = {}
    for trial, original in todo.trials:
        names = todo.measured.get(trial.trial_id)
        completed = Status.of(original.get("status")) == Status.COMPLETED
        if names is None and completed:  # no metric asked for applies: said, not written
            continue
        if names is None:  # not completed: on record as it was, measured from nothing
            written = trial
            record = TrialRecord.from_metrics(trial, original)
            record.evaluations = []
            metrics = record.metrics_json()
        else:
            written = replace(trial, metrics=tuple(names))
            metrics = measure(todo, trial, names, assets[trial.dataset_label], evaluators)
        status = Status.of(metrics.get("status"))
        counts[status] = counts.get(status, 0) + 1
        written_to.write_config(written)
        written_to.write_metrics(trial.trial_id, metrics)
    written_to.write_meta(
        {
            "suite": meta.get("suite", todo.trials[0][0].suite),
            "run_id": f"{meta.get('run_id', todo.run_dir.name)} evaluation {stamp} "
            f"({todo.which} models)",
            "status": "complete",
            "started": started,
            "finished": now(),
            "trials": sum(counts.values()),
            "counts": counts,
            "measured_from": {"run": str(todo.run_dir), "which": todo.which},
        },
    )


def measure(
    todo: Remeasure,
    trial: Trial,
    names: list[str],
    assets: DatasetAssets,
    evaluators: dict[tuple, Evaluator],
) -> dict[str, Any]:
    """One trial's kept model measured exactly as its own evaluations were: the evaluator fits
    the model's sampler on the training data, then draws eval_samples with the trial's seed."""
    result = RunFolder(todo.run_dir).trial(trial.trial_id)
    _, model, kept = open_kept(result.folder, todo.which)
    n = int(trial.budget["eval_samples"])
    key = (trial.dataset_label, tuple(names), n)
    if key not in evaluators:
        evaluators[key] = Evaluator(assets, names, n, torch.device("cpu"))
    began = time.perf_counter()
    evaluation = evaluators[key](model, kept["step"], seed=trial.seed)
    if evaluators[key].history_metrics:
        evaluation = evaluators[key].finish(evaluation, result.history(), model)
    seconds = time.perf_counter() - began
    return trial_metrics(trial, evaluation, kept, todo.which, seconds, evaluators[key].protocol())


def trial_metrics(
    trial: Trial,
    evaluation: Evaluation,
    kept: dict[str, Any],
    which: str,
    seconds: float,
    protocol: dict[str, Any],
) -> dict[str, Any]:
    """The metrics.json of one re-measured trial: a record like the run's own (its protocol
    included, so `bench compare` can check it), saying which kept model it measured."""
    spent = getattr(evaluation, "seconds", None) or {}
    record = TrialRecord(trial, status=Status.COMPLETED, step=kept["step"], wall_s=seconds)
    record.evaluations = [
        {
            "step": kept["step"],
            "metrics": evaluation.values,
            "not_computable": evaluation.not_computable,
        }
    ]
    record.measured_from = {"which": which, "file": KEPT_FILES[which], "step": kept["step"]}
    record.timing = {
        "evaluate_s": round(seconds, 4),
        "metrics_s": {k: round(v, 4) for k, v in spent.items()},
        "wall_s": round(seconds, 4),
    }
    record.protocol = protocol
    return record.metrics_json()
