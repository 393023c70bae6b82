"""The results store (a run folder, written by the driver only) and its aggregation into
leaderboards. Nothing here renders: bench.report does."""

from bench.results.aggregate import Leaderboard, Row, aggregate
from bench.results.folder import RunFolder, TrialResult, load_trials
from bench.results.layout import RUN_FILE, SUITE_FILE, TRIALS_DIR, find_run
from bench.results.record import FINAL, TrialRecord, count_statuses
from bench.results.store import RunStore, ensure_writable

__all__ = [
    "FINAL",
    "RUN_FILE",
    "SUITE_FILE",
    "TRIALS_DIR",
    "Leaderboard",
    "Row",
    "RunFolder",
    "RunStore",
    "TrialRecord",
    "TrialResult",
    "aggregate",
    "count_statuses",
    "ensure_writable",
    "find_run",
    "load_trials",
]
