"""The layout of a run folder (the one place its names are spelt) and the readers of its files.

results/<suite>/<run-id>/
    run.json  suite.yaml  leaderboard.csv  leaderboard.md
    trials/<trial-id>/config.json  metrics.json  history.csv  samples.png  error.txt
    tune[-N]/<trial-id>/checkpoint_*/state.pt  meta.json   (Ray Tune's, one folder per driver)
"""

from __future__ import annotations

import json
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
        found.append((trial, metrics))
    return found
