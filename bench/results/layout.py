"""The layout of a run folder (the one place its names are spelt) and the readers of its files.

results/<suite>/<run-id>/
    run.json  suite.yaml  leaderboard.csv  leaderboard.md
    trials/<trial-id>/config.json  metrics.json  history.csv  samples.png  error.txt
    tune[-N]/<trial-id>/checkpoint_*/state.pt  meta.json   (Ray Tune's, one folder per driver)
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.trial import Trial

RUN_FILE, SUITE_FILE, TRIALS_DIR = "run.json", "suite.yaml", "trials"
TUNE_PREFIX = "tune"  # Tune's experiment folders (checkpoints) inside the run folder


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
        found.append(from_legacy(trial, metrics))
    return found


LEGACY_STABILITY = "stability"  # runs before one metric channel kept it beside `final`


def from_legacy(trial: Trial, metrics: dict[str, Any]) -> tuple[Trial, dict[str, Any]]:
    """A trial written before stability was a metric like the others (a separate `stability`
    field in metrics.json, not in the trial's metrics) read as it would be written today."""
    legacy = metrics.get(LEGACY_STABILITY)
    if legacy is None:
        return trial, metrics
    metrics = {k: v for k, v in metrics.items() if k != LEGACY_STABILITY}
    metrics["final"] = {**metrics.get("final", {}), **legacy}
    if LEGACY_STABILITY not in trial.metrics:
        trial = replace(trial, metrics=(*trial.metrics, LEGACY_STABILITY))
    return trial, metrics
