"""Experiment tracking: wandb lives here and nowhere else (bench.tracking.runs imports it).

One wandb run per trial, opened when the trial starts and logged as its reports arrive, from a
background thread (tracker); its id is derived from the suite run's id and the trial's id, so a
resumed trial, a resumed driver and `bench sync` continue the same run (content: what is logged;
ledger: which runs the run folder's wandb/ holds; rebuild: runs rebuilt from the files on disk;
sync: `bench sync`, uploads and the login check). One leaderboard run per suite run, in the same
group, holds its tables and leaderboard files."""

from bench.tracking.content import stable_id
from bench.tracking.sync import SyncReport, log_reproduction, require_wandb_login, sync_run
from bench.tracking.tracker import Tracker, WandbTracker, make_tracker

__all__ = [
    "SyncReport",
    "Tracker",
    "WandbTracker",
    "log_reproduction",
    "make_tracker",
    "require_wandb_login",
    "stable_id",
    "sync_run",
]
