"""wandb runs rebuilt from a run folder's files, which hold everything (config.json, metrics.json
with every evaluation, history.csv, samples.png): `bench sync`, a resumed driver catching up on
trials its killed predecessor finished but never logged, and `bench reproduce` adding its
comparison to the leaderboard run all go through here. A run the ledger says is up to date is
left alone, so repeating any of them writes nothing new."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.results.aggregate import Leaderboard, aggregate
from bench.results.folder import RunFolder
from bench.results.layout import SAMPLES_FILE, SUITE_FILE
from bench.results.record import TrialRecord
from bench.tracking.content import LEADERBOARD, fingerprint, leaderboard_tables, stable_id
from bench.tracking.ledger import Ledger
from bench.tracking.runs import ARTIFACT_FILES, Destination, TrialRun, log_leaderboard

REPRODUCTION_JSON = "reproduction.json"


def destination(run_dir: Path, mode: str) -> Destination:
    """Where a run folder's wandb runs go, from its own files (run.json, suite.yaml's tracking)
    rather than a validated suite: an old run syncs even when a plugin it used is gone."""
    meta = RunFolder(run_dir).meta()
    suite = yaml.safe_load((Path(run_dir) / SUITE_FILE).read_text()) or {}
    tracking = suite.get("tracking") or {}
    project = tracking.get("project") or "bench"
    return Destination(mode, project, tracking.get("entity"), meta["suite"], Path(run_dir))


def trial_from_disk(run_dir: Path, trial_id: str) -> tuple[TrialRecord, Path | None] | None:
    """A trial's record (history included) and its sample picture; None before its first report."""
    result = RunFolder(run_dir).trial(trial_id)
    if not result.metrics:
        return None
    record = TrialRecord.from_metrics(result.trial, result.metrics)
    record.history = result.history()
    return record, result.file(SAMPLES_FILE)


def log_trial(dest: Destination, ledger: Ledger, record: TrialRecord, picture: Path | None) -> Path:
    """A whole trial, from its record, into a new copy of its run (which replaces older ones)."""
    run = TrialRun(dest, record.trial)
    try:
        run.log(record.history, record.evaluations)
    finally:
        folder = run.finish(record, picture)
    ledger.record(
        stable_id(dest.run_id, record.trial.trial_id),
        record.trial.trial_id,
        fingerprint(record),
        folder,
    )
    return folder


@dataclass
class Rebuilt:
    written: list[str]  # names (trial ids, "leaderboard") whose run was (re)written
    current: list[str]  # those already up to date


def rebuild_trials(
    dest: Destination, ledger: Ledger, trial_ids: Iterable[str] | None = None
) -> Rebuilt:
    """Log every trial (or those named) whose run is missing or behind its files."""
    ids = list(trial_ids) if trial_ids is not None else RunFolder(dest.run_dir).trial_ids()
    done = Rebuilt([], [])
    for trial_id in ids:
        found = trial_from_disk(dest.run_dir, trial_id)
        if found is None:
            continue
        record, picture = found
        if ledger.up_to_date(stable_id(dest.run_id, trial_id), fingerprint(record)):
            done.current.append(trial_id)
            continue
        log_trial(dest, ledger, record, picture)
        done.written.append(trial_id)
    return done


def comparisons_on_disk(run_dir: Path) -> list[dict[str, Any]]:
    """The reproduction comparison `bench reproduce` wrote into the run folder, if any."""
    path = Path(run_dir) / REPRODUCTION_JSON
    return json.loads(path.read_text()).get("comparisons", []) if path.is_file() else []


def board_digest(dest: Destination, board: Leaderboard, comparisons: Sequence[dict]) -> str:
    """What the leaderboard run holds: its tables and its artifact's files."""
    digest = hashlib.sha256(
        json.dumps(leaderboard_tables(board, comparisons), default=str).encode()
    )
    for name in ARTIFACT_FILES:
        path = Path(dest.run_dir) / name
        if path.is_file():
            digest.update(name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def rebuild_leaderboard(
    dest: Destination,
    ledger: Ledger,
    board: Leaderboard | None = None,
    comparisons: Sequence[dict[str, Any]] | None = None,
) -> bool:
    """Log the leaderboard run unless it is up to date; whether it was (re)written."""
    board = board if board is not None else aggregate(dest.run_dir)
    comparisons = comparisons_on_disk(dest.run_dir) if comparisons is None else comparisons
    run_id, logged = stable_id(dest.run_id, LEADERBOARD), board_digest(dest, board, comparisons)
    if ledger.up_to_date(run_id, logged):
        return False
    folder = log_leaderboard(dest, board, comparisons)
    ledger.record(run_id, LEADERBOARD, logged, folder)
    return True
