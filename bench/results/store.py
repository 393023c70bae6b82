"""The results store: one run folder, written only by the driver, every file atomically.

Layout of one run (every file written atomically; `run.json` says whether the run finished, and
the leaderboard files appear only once it has, so a partial folder never looks complete):

    results/<suite>/<run-id>/
        run.json  suite.yaml  leaderboard.csv  leaderboard.md
        trials/<trial-id>/config.json  metrics.json  history.csv  samples.png  error.txt
                          model_final.pt  model_best.pt   (kept models, bench.trial.kept)
        evaluations/<stamp>/   `bench evaluate --run`: a run-shaped folder of new measurements
        tune[-N]/<trial-id>/checkpoint_*/state.pt  meta.json   (Ray Tune's, one folder per driver)
"""

from __future__ import annotations

import os
import platform
import secrets
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import yaml

from bench import __version__
from bench.errors import BenchError
from bench.io import write_text
from bench.results.aggregate import Leaderboard, aggregate
from bench.results.folder import RunFolder
from bench.results.layout import (
    SUITE_FILE,
    TUNE_PREFIX,
    find_run,
)
from bench.results.record import Files, TrialRecord, now
from bench.suite.schema import Suite


class RunStore(RunFolder):
    """One run folder: created before any trial starts, finished when the suite ends."""

    @classmethod
    def create(cls, root: Path, suite: Suite, n_trials: int) -> RunStore:
        suite_dir = Path(root) / suite.name
        ensure_writable(suite_dir)
        run_id = datetime.now().strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)
        store = cls(suite_dir / run_id)
        store.path.mkdir()
        write_text(store.path / SUITE_FILE, suite_yaml(suite))
        store.write_meta(run_metadata(suite, run_id, n_trials))
        return store

    @classmethod
    def open(cls, run_dir: Path) -> RunStore:
        """An existing run folder, to resume it."""
        return cls(find_run(run_dir))

    @property
    def run_id(self) -> str:
        return self.path.name

    def reopen(self) -> None:
        """A driver resumes this run: it is running again, and the resume is on record."""
        meta = self.meta()
        meta.update(status="running", finished=None)
        meta.setdefault("resumed", []).append(now())
        self.write_meta(meta)

    def stored_trials(self) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
        """trial id -> (config.json, metrics.json or {}) of every trial this run has written,
        upgraded (bench.results.folder.upgrade), so a run written by an older bench resumes."""
        found = {}
        for trial_id in self.trial_ids():
            result = self.trial(trial_id)
            found[trial_id] = (result.trial.to_dict(), result.metrics)
        return found

    def next_experiment(self) -> str:
        """Tune's experiment folder for this driver: `tune`, then `tune-2`, ... on each resume, so
        a resumed driver never writes over the checkpoints it is resuming from."""
        taken = {p.name for p in self.path.glob(f"{TUNE_PREFIX}*")}
        if TUNE_PREFIX not in taken:
            return TUNE_PREFIX
        return next(
            f"{TUNE_PREFIX}-{n}" for n in range(2, 10_000) if f"{TUNE_PREFIX}-{n}" not in taken
        )

    def write_trial(self, record: TrialRecord, files: dict[str, bytes] | None = None) -> None:
        """metrics.json, history.csv and the files the trial sent (file name -> bytes: its
        pictures and kept models). Every file comes before metrics.json, which marks the trial
        done, so a finished trial never lacks one."""
        self.write_results(
            record.trial.trial_id, record.metrics_json(), record.history, files, record.traceback
        )

    # --- a TrialSink: every report is on disk as it arrives ----------------------------------

    def started(self, record: TrialRecord) -> None:
        """Nothing to write: the trial's config.json was written when the run was planned."""

    def reported(self, record: TrialRecord, files: Files) -> None:
        self.write_trial(record, files)

    def finished(self, record: TrialRecord, files: Files) -> None:
        self.write_trial(record, files)

    def mark(self, status: str, counts: dict[str, int]) -> None:
        meta = self.meta()
        meta.update(status=status, finished=now(), counts=counts)
        self.write_meta(meta)

    def finish(self, status: str, counts: dict[str, int]) -> Leaderboard:
        """Record how the run ended, and its leaderboard. Only a complete run gets leaderboard
        files (written by the caller, bench.report), so a partial folder never looks finished
        (`bench leaderboard` still shows it, marked incomplete)."""
        self.mark(status, counts)
        return aggregate(self.path)


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
            "ray": version("ray"),
        },
        "host": platform.node(),
    }
