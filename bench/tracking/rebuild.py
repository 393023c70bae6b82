"""wandb runs rebuilt from a run folder's files, which hold everything (config.json, metrics.json
with every evaluation, history.csv, samples.png): `bench sync`, a resumed driver catching up on
trials its killed predecessor finished but never logged, and `bench reproduce` adding its
comparison to the leaderboard run all go through here. A run the ledger says is up to date is
left alone, so repeating any of them writes nothing new."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.results.aggregate import Leaderboard, aggregate
from bench.results.layout import RUN_FILE, SUITE_FILE, TRIALS_DIR, from_legacy
from bench.results.record import TrialRecord
from bench.tracking.content import LEADERBOARD, fingerprint, leaderboard_tables, stable_id
from bench.tracking.ledger import Ledger
from bench.tracking.runs import ARTIFACT_FILES, Destination, TrialRun, log_leaderboard
from bench.trial import Trial

REPRODUCTION_JSON = "reproduction.json"


def destination(run_dir: Path, mode: str) -> Destination:
    """Where a run folder's wandb runs go, from its own files (run.json, suite.yaml's tracking)
    rather than a validated suite: an old run syncs even when a plugin it used is gone."""
    meta = json.loads((Path(run_dir) / RUN_FILE).read_text())
    suite = yaml.safe_load((Path(run_dir) / SUITE_FILE).read_text()) or {}
    tracking = suite.get("tracking") or {}
    project = tracking.get("project") or "bench"
    return Destination(mode, project, tracking.get("entity"), meta["suite"], Path(run_dir))


def read_history(path: Path) -> list[dict[str, float]]:
    """history.csv as the rows the trial logged (an empty cell: the key was not logged then)."""
    if not path.is_file():
        return []
    with path.open(newline="") as handle:
        return [
            {"step": int(row["step"]), **{k: float(v) for k, v in row.items() if k != "step" and v}}
            for row in csv.DictReader(handle)
        ]


def trial_from_disk(run_dir: Path, trial_id: str) -> tuple[TrialRecord, Path | None] | None:
    """A trial's record (history included) and its sample picture; None before its first report."""
    folder = Path(run_dir) / TRIALS_DIR / trial_id
    metrics_file = folder / "metrics.json"
    if not metrics_file.is_file():
        return None
    trial = Trial.from_dict(json.loads((folder / "config.json").read_text()))
    trial, metrics = from_legacy(trial, json.loads(metrics_file.read_text()))
    record = TrialRecord.from_metrics(trial, metrics)
    record.history = read_history(folder / "history.csv")
    picture = folder / "samples.png"
    return record, picture if picture.is_file() else None


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
    folders = sorted((Path(dest.run_dir) / TRIALS_DIR).glob("*/config.json"))
    ids = list(trial_ids) if trial_ids is not None else [f.parent.name for f in folders]
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
