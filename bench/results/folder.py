"""The one reader and writer of a run folder's files (their names are in bench.results.layout).

Everything that reads a run folder (aggregation, reports, `bench evaluate --run`, `bench sync`,
resume) reads it through `RunFolder`, and gets each trial as a `TrialResult`: its config, its
metrics.json brought up to the current format by `upgrade()`, and its history on request. Files a
user may have damaged or copied half of are refused naming the file, never a traceback.

metrics.json carries `format` (FORMAT); a file without one is format 1 (runs before this field).
`upgrade()` is the only place that knows what older formats looked like.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from bench.errors import BenchError
from bench.io import write_bytes, write_json, write_text
from bench.results.layout import (
    CONFIG_FILE,
    ERROR_FILE,
    HISTORY_FILE,
    METRICS_FILE,
    RUN_FILE,
    SUITE_FILE,
    TRIALS_DIR,
    TUNE_PREFIX,
    find_run,
)
from bench.trial import Trial
from bench.trial.report import Status

FORMAT = 2  # metrics.json's format: 2 added `format` itself and keeps stability in `final`
LEGACY_STABILITY = "stability"  # format 1 runs kept it in its own field beside `final`


def upgrade(
    trial: Trial, metrics: dict[str, Any], reference: int | None = None
) -> tuple[Trial, dict[str, Any]]:
    """A trial's config and metrics.json as they would be written today (a trial that has not
    reported yet has `{}` and stays so). `reference`: the run's reference-set size, for configs
    written before each trial's budget carried it (then it was the suite's eval_samples)."""
    if "reference_samples" not in trial.budget:
        size = reference or trial.budget["eval_samples"]
        trial = replace(trial, budget={**trial.budget, "reference_samples": size})
    if not metrics or metrics.get("format", 1) >= FORMAT:
        return trial, metrics
    metrics = {**metrics, "format": FORMAT}
    legacy = metrics.pop(LEGACY_STABILITY, None)
    if legacy is not None:  # format 1: stability beside `final`, not one metric among them
        metrics["final"] = {**metrics.get("final", {}), **legacy}
        if LEGACY_STABILITY not in trial.metrics:
            trial = replace(trial, metrics=(*trial.metrics, LEGACY_STABILITY))
    return trial, metrics


@dataclass
class TrialResult:
    """One trial of a run folder, read."""

    trial: Trial
    metrics: dict[str, Any]  # metrics.json, upgraded; {} before the trial's first report
    folder: Path

    @property
    def status(self) -> Status:
        return Status.of(self.metrics.get("status"))

    @property
    def final(self) -> dict[str, Any]:
        return self.metrics.get("final", {})

    def file(self, name: str) -> Path | None:
        """One of the trial's files (a picture, a kept model), if it has it."""
        path = self.folder / name
        return path if path.is_file() else None

    def history(self) -> list[dict[str, float]]:
        """history.csv as the rows the trial logged ('step' an int; a key a row lacked, an empty
        cell, is left out of that row). No file: no rows."""
        return read_history(self.folder / HISTORY_FILE)


def read_history(path: Path) -> list[dict[str, float]]:
    if not path.is_file():
        return []
    try:
        with path.open(newline="") as handle:
            return [history_row(row) for row in csv.DictReader(handle)]
    except (ValueError, KeyError, csv.Error, UnicodeDecodeError) as exc:
        raise BenchError(
            f"{path} is not a history.csv bench can read: {exc}",
            fix="restore the file from a copy of the run, or delete it (metrics over training "
            "then cannot be measured for that trial)",
        ) from None


def history_row(row: dict[str, str]) -> dict[str, float]:
    return {
        "step": int(row["step"]),
        **{k: float(v) for k, v in row.items() if k != "step" and v not in ("", None)},
    }


def history_csv(rows: list[dict[str, float]]) -> str:
    keys = ["step"] + sorted({k for row in rows for k in row} - {"step"})
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def read_json(path: Path) -> dict[str, Any]:
    """A JSON file of a run folder (an object); a missing or broken one is refused naming it."""
    from bench.userfiles import read_json as guarded  # torch loads only when a file is read

    return guarded(path, what=f"run folder's {Path(path).name}", fix=RESTORE_RUN)


RESTORE_RUN = "restore the file from a copy of the run folder (bench writes each file whole)"


def trial_of(config: dict[str, Any], path: Path) -> Trial:
    """The trial a config.json describes; one that lacks fields (or holds the wrong types) is
    refused naming the file."""
    try:
        return Trial.from_dict(config)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise BenchError(
            f"{path}: the trial config is not one bench wrote ({exc})",
            fix=RESTORE_RUN,
        ) from None


class RunFolder:
    """A run folder: results/<suite>/<run-id>/ (see bench.results.store for the layout)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def find(cls, path: Path) -> RunFolder:
        """A run folder, or the newest run inside a suite's results folder."""
        return cls(find_run(path))

    # --- reading -------------------------------------------------------------------------

    def meta(self) -> dict[str, Any]:
        return read_json(self.path / RUN_FILE)

    def suite_text(self) -> str:
        """The resolved suite the run was started with (suite.yaml), as written."""
        return (self.path / SUITE_FILE).read_text()

    def trial_dir(self, trial_id: str) -> Path:
        return self.path / TRIALS_DIR / trial_id

    def trial_ids(self) -> list[str]:
        """Every trial with a config.json, in order of id."""
        return [p.parent.name for p in sorted(self.path.glob(f"{TRIALS_DIR}/*/{CONFIG_FILE}"))]

    def raw(self, trial_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """(config.json, metrics.json or {}) exactly as written, for a resumed driver."""
        folder = self.trial_dir(trial_id)
        metrics_file = folder / METRICS_FILE
        metrics = read_json(metrics_file) if metrics_file.is_file() else {}
        return read_json(folder / CONFIG_FILE), metrics

    def trial(self, trial_id: str) -> TrialResult:
        config, metrics = self.raw(trial_id)
        trial = trial_of(config, self.trial_dir(trial_id) / CONFIG_FILE)
        try:
            trial, metrics = upgrade(trial, metrics, self.suite_reference)
        except (TypeError, AttributeError, KeyError) as exc:
            raise BenchError(
                f"{self.trial_dir(trial_id) / METRICS_FILE}: not a metrics.json bench wrote "
                f"({type(exc).__name__}: {exc})",
                fix=RESTORE_RUN,
            ) from None
        return TrialResult(trial, metrics, self.trial_dir(trial_id))

    @cached_property
    def suite_reference(self) -> int | None:
        """The reference-set size in the run's suite.yaml (runs before trials carried it)."""
        try:
            budget = yaml.safe_load(self.suite_text())["budget"]
            return int(budget.get("reference_samples") or budget["eval_samples"])
        except (OSError, KeyError, TypeError, ValueError, yaml.YAMLError):
            return None

    def trials(self) -> list[TrialResult]:
        return [self.trial(trial_id) for trial_id in self.trial_ids()]

    def pairs(self) -> list[tuple[Trial, dict[str, Any]]]:
        """(config, metrics.json) of every trial, as aggregation and the reports take them."""
        return [(result.trial, result.metrics) for result in self.trials()]

    def checkpoints(self, trial_id: str) -> list[Path]:
        """Every checkpoint folder Tune kept for this trial, over all drivers of this run."""
        return sorted(self.path.glob(f"{TUNE_PREFIX}*/{trial_id}/checkpoint_*"))

    # --- writing (every file atomically) ---------------------------------------------------

    def write_meta(self, meta: dict[str, Any]) -> None:
        write_json(self.path / RUN_FILE, meta)

    def write_config(self, trial: Trial) -> None:
        write_json(self.trial_dir(trial.trial_id) / CONFIG_FILE, trial.to_dict())

    def write_metrics(self, trial_id: str, metrics: dict[str, Any]) -> None:
        write_json(self.trial_dir(trial_id) / METRICS_FILE, {**metrics, "format": FORMAT})

    def write_results(
        self,
        trial_id: str,
        metrics: dict[str, Any],
        history: list[dict[str, float]] | None = None,
        files: dict[str, bytes] | None = None,
        traceback: str | None = None,
    ) -> None:
        """A trial's files (pictures, kept models), then metrics.json, which marks it reported,
        so a reported trial never lacks one; history.csv and error.txt beside it."""
        folder = self.trial_dir(trial_id)
        for name, data in (files or {}).items():
            write_bytes(folder / Path(name).name, data)
        self.write_metrics(trial_id, metrics)
        if history is not None:
            write_text(folder / HISTORY_FILE, history_csv(history))
        if traceback:
            write_text(folder / ERROR_FILE, traceback)


def load_trials(run_dir: Path) -> list[tuple[Trial, dict[str, Any]]]:
    """(config, metrics.json) of every trial of a run; trials without results count as pending."""
    return RunFolder(run_dir).pairs()
