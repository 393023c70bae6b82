"""The results store (a run folder, written by the driver only) and its aggregation into
leaderboards. Nothing here renders: bench.report does."""

from bench.results.aggregate import Leaderboard, Row, aggregate
from bench.results.layout import RUN_FILE, SUITE_FILE, TRIALS_DIR, find_run, load_trials
from bench.results.record import FINAL, TrialRecord, count_statuses
from bench.results.store import RunStore, ensure_writable

__all__ = [
    "FINAL",
    "RUN_FILE",
    "SUITE_FILE",
    "TRIALS_DIR",
    "Leaderboard",
    "Row",
    "RunStore",
    "TrialRecord",
    "aggregate",
    "count_statuses",
    "ensure_writable",
    "find_run",
    "load_trials",
]
