"""The results store and its aggregation into leaderboards.

Layout of one run (every file written atomically; `run.json` says whether the run finished, and
the leaderboard files appear only once it has, so a partial folder never looks complete):

    results/<suite>/<run-id>/
        run.json  suite.yaml  leaderboard.csv  leaderboard.md
        trials/<trial-id>/config.json  metrics.json  history.csv  samples.png  error.txt
        tune[-N]/<trial-id>/checkpoint_*/state.pt  meta.json   (Ray Tune's, one folder per driver)
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import platform
import secrets
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from bench import __version__
from bench.errors import BenchError
from bench.io import write_bytes, write_json, write_text
from bench.sensitivity import Sensitivity, sensitivities
from bench.suite import Suite, Trial

RUN_FILE, SUITE_FILE, TRIALS_DIR = "run.json", "suite.yaml", "trials"
TUNE_PREFIX = "tune"  # Tune's experiment folders (checkpoints) inside the run folder
# "stopped": ended early by the suite's scheduler (ASHA) for scoring worse than its peers
FINAL = ("completed", "diverged", "error", "failed", "stopped")


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class TrialRecord:
    """What the driver knows of one trial, accumulated from its reports."""

    trial: Trial
    status: str = "pending"
    step: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    traceback: str | None = None
    wall_s: float = 0.0
    nodes: list[str] = field(default_factory=list)  # Ray node ids it ran on, in order
    restored_from: list[int] = field(default_factory=list)  # checkpoint steps it continued from
    warnings: list[str] = field(default_factory=list)
    stability: dict[str, float] = field(default_factory=dict)  # of the whole training history

    @classmethod
    def from_metrics(cls, trial: Trial, metrics: dict[str, Any]) -> TrialRecord:
        """A trial finished by an earlier driver, from its metrics.json (history stays on disk)."""
        record = cls(trial, status=metrics.get("status", "pending"), step=metrics.get("step", 0))
        record.evaluations = list(metrics.get("evaluations", []))
        record.error, record.wall_s = metrics.get("error"), metrics.get("wall_s", 0.0)
        record.nodes = list(metrics.get("nodes", []))
        record.restored_from = list(metrics.get("restored_from", []))
        record.warnings = list(metrics.get("warnings", []))
        record.stability = dict(metrics.get("stability", {}))
        return record

    def absorb(self, payload: dict[str, Any]) -> None:
        """Fold one report in. A retried trial reports earlier steps again: those replace the old
        rows instead of duplicating them. The first report after a restore from a checkpoint
        replays everything up to it, which replaces whatever an earlier attempt reported."""
        restored = payload.get("restored")
        if restored:
            self.history = list(restored["history"])
            self.evaluations = list(restored["evaluations"])
            self.restored_from.append(restored["step"])
        node = payload.get("node")
        if node and (not self.nodes or self.nodes[-1] != node):
            self.nodes.append(node)
        for note in payload.get("warnings") or ():
            if note not in self.warnings:
                self.warnings.append(note)
        rows = payload["history"]
        first = rows[0]["step"] if rows else payload["step"]
        self.history = [r for r in self.history if r["step"] < first] + rows
        self.evaluations = [e for e in self.evaluations if e["step"] < first]
        if payload["metrics"] or payload["not_computable"]:
            self.evaluations.append(
                {
                    "step": payload["step"],
                    "metrics": payload["metrics"],
                    "not_computable": payload["not_computable"],
                }
            )
        self.status, self.step = payload["status"], payload["step"]
        self.error, self.traceback = payload["error"], payload["traceback"]
        self.wall_s = payload["wall_s"]
        if payload.get("stability") is not None:
            self.stability = payload["stability"]

    @property
    def final(self) -> dict[str, Any]:
        return self.evaluations[-1] if self.evaluations else {"metrics": {}, "not_computable": {}}

    def metrics_json(self) -> dict[str, Any]:
        return {
            "trial_id": self.trial.trial_id,
            "status": self.status,
            "step": self.step,
            "steps_budget": self.trial.budget["steps"],
            "error": self.error,
            "wall_s": round(self.wall_s, 3),
            "final": self.final["metrics"],
            "not_computable": self.final["not_computable"],
            "evaluations": self.evaluations,
            "nodes": self.nodes,
            "restored_from": self.restored_from,
            "warnings": self.warnings,
            "stability": self.stability,
        }


class RunStore:
    """One run folder: created before any trial starts, finished when the suite ends."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def create(cls, root: Path, suite: Suite, n_trials: int) -> RunStore:
        suite_dir = Path(root) / suite.name
        ensure_writable(suite_dir)
        run_id = datetime.now().strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)
        store = cls(suite_dir / run_id)
        store.path.mkdir()
        write_text(store.path / SUITE_FILE, suite_yaml(suite))
        write_json(store.path / RUN_FILE, run_metadata(suite, run_id, n_trials))
        return store

    @classmethod
    def open(cls, run_dir: Path) -> RunStore:
        """An existing run folder, to resume it."""
        return cls(find_run(run_dir))

    @property
    def run_id(self) -> str:
        return self.path.name

    def meta(self) -> dict[str, Any]:
        return json.loads((self.path / RUN_FILE).read_text())

    def reopen(self) -> None:
        """A driver resumes this run: it is running again, and the resume is on record."""
        meta = self.meta()
        meta.update(status="running", finished=None)
        meta.setdefault("resumed", []).append(now())
        write_json(self.path / RUN_FILE, meta)

    def stored_trials(self) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
        """trial id -> (config.json, metrics.json or {}) of every trial this run has written."""
        found = {}
        for config in sorted((self.path / TRIALS_DIR).glob("*/config.json")):
            metrics_file = config.parent / "metrics.json"
            metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
            found[config.parent.name] = (json.loads(config.read_text()), metrics)
        return found

    def checkpoints(self, trial_id: str) -> list[Path]:
        """Every checkpoint folder Tune kept for this trial, over all drivers of this run."""
        return sorted(self.path.glob(f"{TUNE_PREFIX}*/{trial_id}/checkpoint_*"))

    def next_experiment(self) -> str:
        """Tune's experiment folder for this driver: `tune`, then `tune-2`, ... on each resume, so
        a resumed driver never writes over the checkpoints it is resuming from."""
        taken = {p.name for p in self.path.glob(f"{TUNE_PREFIX}*")}
        if TUNE_PREFIX not in taken:
            return TUNE_PREFIX
        return next(
            f"{TUNE_PREFIX}-{n}" for n in range(2, 10_000) if f"{TUNE_PREFIX}-{n}" not in taken
        )

    def trial_dir(self, trial_id: str) -> Path:
        return self.path / TRIALS_DIR / trial_id

    def write_config(self, trial: Trial) -> None:
        write_json(self.trial_dir(trial.trial_id) / "config.json", trial.to_dict())

    def write_trial(self, record: TrialRecord, pictures: dict[str, bytes] | None = None) -> None:
        """metrics.json, history.csv and the trial's pictures (file name -> PNG bytes)."""
        folder = self.trial_dir(record.trial.trial_id)
        for name, png in (pictures or {}).items():  # before metrics.json marks the trial done
            write_bytes(folder / Path(name).name, png)
        write_json(folder / "metrics.json", record.metrics_json())
        write_text(folder / "history.csv", history_csv(record.history))
        if record.traceback:
            write_text(folder / "error.txt", record.traceback)

    def mark(self, status: str, counts: dict[str, int]) -> None:
        meta = json.loads((self.path / RUN_FILE).read_text())
        meta.update(status=status, finished=now(), counts=counts)
        write_json(self.path / RUN_FILE, meta)

    def finish(self, status: str, counts: dict[str, int]) -> Leaderboard:
        """Record how the run ended; only a complete run gets leaderboard files, so a partial
        folder never looks finished (`bench leaderboard` still shows it, marked incomplete)."""
        self.mark(status, counts)
        board = aggregate(self.path)
        if status == "complete":
            write_text(self.path / "leaderboard.csv", board.to_csv())
            write_text(self.path / "leaderboard.md", board.to_markdown())
        return board


def ensure_writable(folder: Path) -> None:
    """Fail before anything runs when results cannot be written there."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise BenchError(
            f"cannot write results to {folder}: {exc.strerror or exc}",
            fix="pass --results DIR with a folder you can write to, or fix its permissions",
        ) from None


def suite_yaml(suite: Suite) -> str:
    header = f"# resolved suite, loaded from {suite.source}\n" if suite.source else ""
    return header + yaml.safe_dump(suite.model_dump(mode="json"), sort_keys=False)


def run_metadata(suite: Suite, run_id: str, n_trials: int) -> dict[str, Any]:
    import ray
    import torch

    return {
        "suite": suite.name,
        "run_id": run_id,
        "status": "running",
        "started": now(),
        "finished": None,
        "trials": n_trials,
        "counts": {},
        "versions": {
            "bench": __version__,
            "python": platform.python_version(),
            "torch": torch.__version__,
            "ray": ray.__version__,
        },
        "host": platform.node(),
    }


def history_csv(rows: list[dict[str, float]]) -> str:
    keys = ["step"] + sorted({k for row in rows for k in row} - {"step"})
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


# --- aggregation -------------------------------------------------------------------------------


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

    def mean(self, key: str) -> float:
        vals = self.values.get(key, [])
        return statistics.fmean(vals) if vals else math.nan

    def std(self, key: str) -> float:
        vals = self.values.get(key, [])
        return statistics.stdev(vals) if len(vals) > 1 else math.nan

    @property
    def completed(self) -> int:
        return self.statuses.get("completed", 0)


@dataclass
class Leaderboard:
    title: str
    rows: list[Row]
    directions: dict[str, str]  # metric key -> "min" | "max", in display order
    incomplete: str | None = None  # why the run is not finished, when it is not
    stability: dict[str, str] = field(default_factory=dict)  # training-stability key -> better
    sensitivity: list[Sensitivity] = field(default_factory=list)

    @property
    def keys(self) -> list[str]:
        return list(self.directions) + list(self.stability)

    def stability_keys_for(self, dataset: str) -> list[str]:
        return self._present(dataset, self.stability)

    def datasets(self) -> list[str]:
        return list(dict.fromkeys(row.dataset for row in self.rows))

    def keys_for(self, dataset: str) -> list[str]:
        return self._present(dataset, self.directions)

    def _present(self, dataset: str, keys: dict[str, str]) -> list[str]:
        """Those of `keys`, in order, that some row of `dataset` has a value for."""
        present = {k for row in self.rows if row.dataset == dataset for k in row.values}
        return [k for k in keys if k in present]

    def to_csv(self) -> str:
        buffer = io.StringIO()
        head = ["rank", "dataset", "model", "variant", "seeds", "completed", "statuses"]
        head += [f"{k}_{s}" for k in self.keys for s in ("mean", "std", "n")]
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
            writer.writerow(cells)
        return buffer.getvalue()

    def to_markdown(self) -> str:
        from bench.report import leaderboard_markdown

        return leaderboard_markdown(self)


def fmt_csv(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.6g}"


def status_text(statuses: dict[str, int]) -> str:
    return ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))


def find_run(path: Path) -> Path:
    """A run folder, or the newest run inside a suite's results folder."""
    path = Path(path)
    if (path / RUN_FILE).is_file():
        return path
    runs = sorted(p.parent for p in path.glob(f"*/{RUN_FILE}")) if path.is_dir() else []
    if not runs:
        raise BenchError(
            f"no bench run found at {path}",
            fix="give a run folder (results/<suite>/<run-id>) or a suite's results folder "
            "(results/<suite>) that holds at least one run",
        )
    return runs[-1]


def load_trials(run_dir: Path) -> list[tuple[Trial, dict[str, Any]]]:
    """(config, metrics.json) of every trial of a run; trials without results count as pending."""
    found = []
    for config in sorted((run_dir / TRIALS_DIR).glob("*/config.json")):
        trial = Trial.from_dict(json.loads(config.read_text()))
        metrics_file = config.parent / "metrics.json"
        metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
        found.append((trial, metrics))
    return found


def aggregate(run_dir: Path) -> Leaderboard:
    """Group a run's trials over seeds and rank each dataset's rows by its first metric."""
    from bench.metrics import METRICS
    from bench.metrics.stability import STABILITY_DIRECTIONS

    meta = json.loads((run_dir / RUN_FILE).read_text())
    groups: dict[tuple[str, str, str], Row] = {}
    directions: dict[str, str] = {}
    stability: dict[str, str] = {}
    trials = load_trials(run_dir)
    for trial, metrics in trials:
        for name in trial.metrics:
            directions.update(METRICS.get(name).directions)
        for key in metrics.get("stability") or {}:
            stability[key] = STABILITY_DIRECTIONS.get(key, "min")
        row = groups.setdefault(trial.group_key, new_row(trial))
        add_trial(row, metrics)
    rows = rank(list(groups.values()), directions)
    primary = {r.dataset: r.primary for r in rows if r.primary}
    finished = sum(row.seeds - row.statuses.get("pending", 0) for row in rows)
    incomplete = None
    if meta.get("status") != "complete":
        incomplete = (
            f"run status '{meta.get('status')}': {finished} of {meta['trials']} trials finished"
        )
    title = f"{meta['suite']} / {meta['run_id']}"
    board = Leaderboard(title, rows, directions, incomplete, stability)
    board.sensitivity = sensitivities(trials, primary)
    return board


def new_row(trial: Trial) -> Row:
    return Row(trial.dataset_label, trial.model_label, trial.variant, 0, {}, {}, [])


def add_trial(row: Row, metrics: dict[str, Any]) -> None:
    status = metrics.get("status", "pending")
    status = status if status in FINAL else "pending"
    row.seeds += 1
    row.statuses[status] = row.statuses.get(status, 0) + 1
    if metrics.get("error"):
        row.errors.append(f"{metrics['trial_id']}: {metrics['error']}")
    values = dict(metrics.get("final", {})) if status == "completed" else {}
    if status in ("completed", "diverged"):  # how often a model diverges is part of its record
        values.update(metrics.get("stability") or {})
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
            sign = 1.0 if directions[primary] == "min" else -1.0
            scored = [r for r in members if r.values.get(primary)]
            unscored = [r for r in members if not r.values.get(primary)]
            scored.sort(key=lambda r: sign * r.mean(primary))
            members = scored + unscored
            for i, r in enumerate(scored, start=1):
                r.rank, r.primary = i, primary
        ranked.extend(members)
    return ranked
