"""The layout of a run folder: the one place its names are spelt (bench.results.folder reads and
writes the files).

results/<suite>/<run-id>/
    run.json  suite.yaml  leaderboard.csv  leaderboard.md
    trials/<trial-id>/config.json  metrics.json  history.csv  samples.png  error.txt
    tune[-N]/<trial-id>/checkpoint_*/state.pt  meta.json   (Ray Tune's, one folder per driver)
"""

from __future__ import annotations

from pathlib import Path

from bench.errors import BenchError

RUN_FILE, SUITE_FILE, TRIALS_DIR = "run.json", "suite.yaml", "trials"
# one trial's folder
CONFIG_FILE, METRICS_FILE, HISTORY_FILE = "config.json", "metrics.json", "history.csv"
ERROR_FILE, SAMPLES_FILE = "error.txt", "samples.png"
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
