"""The live tracker: the driver's callback hands it every trial's start, reports and end, and a
background thread logs them into the trial's wandb run, so tracking never slows the suite. The
results store has everything first; a tracking failure costs one trial's run (a warning that
says `bench sync` logs it again from its files), never a result, nor the other trials' runs."""

from __future__ import annotations

import contextlib
import functools
import queue
import threading
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.results.aggregate import Leaderboard
from bench.results.layout import SAMPLES_FILE, TRIALS_DIR
from bench.results.record import Files, TrialRecord
from bench.suite.schema import Suite
from bench.tracking.content import LEADERBOARD, UNFINISHED, fingerprint, stable_id
from bench.tracking.ledger import Ledger
from bench.tracking.runs import Destination, TrialRun
from bench.trial import Trial


class Tracker:
    """Tracks nothing: the `disabled` mode, and the interface of every tracker. Every method is
    called on the driver's thread and returns at once."""

    warnings: list[str]

    def __init__(self) -> None:
        self.warnings = []

    def started(self, record: TrialRecord) -> None:
        """A trial started (or restarted, in a resumed run): its run opens."""

    def reported(self, record: TrialRecord, files: Files | None = None) -> None:
        """A report was folded into `record`: what it added (history rows, an evaluation) is
        logged."""

    def finished(self, record: TrialRecord, files: Files | None = None) -> None:
        """The trial ended (any status): its summary, tags and sample picture (the store wrote
        it into the trial's folder already); its run closes."""

    def catch_up(self, trial_ids: Iterable[str]) -> None:
        """A resumed run: trials an earlier driver finished, to log from their files unless a run
        of them is already up to date (see bench.tracking.ledger)."""

    def leaderboard(self, board: Leaderboard) -> None:
        """The suite run's leaderboard run, once the run is complete and its files written."""

    def close(self) -> list[str]:
        """Wait for pending logging; return warnings to show the user."""
        return self.warnings


Job = tuple[str, Callable[[], None]]  # (what it logs: a trial id or "leaderboard", the work)


class WandbTracker(Tracker):
    def __init__(self, dest: Destination) -> None:
        super().__init__()
        self.dest = dest
        self.ledger = Ledger(dest.run_dir)
        self.sent: dict[str, int] = {}  # driver thread: trial id -> last step handed on
        self.runs: dict[str, TrialRun] = {}  # worker thread: the open runs
        self.broken: set[str] = set()  # worker thread: what failed once is not tried again
        self.queue: queue.Queue[Job | None] = queue.Queue()
        self.thread = threading.Thread(target=self._work, name="bench-wandb", daemon=True)
        self.thread.start()

    # --- the driver's thread: snapshots of what arrived, queued --------------------------------

    def started(self, record: TrialRecord) -> None:
        trial = record.trial
        self.sent.setdefault(trial.trial_id, 0)
        self._submit(trial.trial_id, self._open, trial)

    def reported(self, record: TrialRecord, files: Files | None = None) -> None:
        rows, evaluations = self.arrived(record)
        if rows or evaluations:
            self._submit(record.trial.trial_id, self._log, record.trial, rows, evaluations)

    def finished(self, record: TrialRecord, files: Files | None = None) -> None:
        self.reported(record)
        picture = self.dest.run_dir / TRIALS_DIR / record.trial.trial_id / SAMPLES_FILE
        picture = picture if SAMPLES_FILE in (files or {}) and picture.is_file() else None
        final = replace(record, history=[], evaluations=list(record.evaluations))
        self._submit(record.trial.trial_id, self._finish, final, picture)

    def catch_up(self, trial_ids: Iterable[str]) -> None:
        from bench.tracking.rebuild import rebuild_trials

        for trial_id in trial_ids:
            self._submit(trial_id, rebuild_trials, self.dest, self.ledger, [trial_id])

    def leaderboard(self, board: Leaderboard) -> None:
        from bench.tracking.rebuild import rebuild_leaderboard

        self._submit(LEADERBOARD, rebuild_leaderboard, self.dest, self.ledger, board)

    def close(self) -> list[str]:
        self.queue.put(None)
        self.thread.join()
        return self.warnings

    def arrived(self, record: TrialRecord) -> tuple[list[dict], list[dict]]:
        """History rows and evaluations newer than what was handed on for this trial. After a
        restore from a checkpoint the record replays earlier steps; those were handed on already
        (or, for a trial an earlier driver ran, this driver's copy of the run starts with them)."""
        last = self.sent.get(record.trial.trial_id, 0)
        rows: list[dict] = []
        for row in reversed(record.history):
            if row["step"] <= last:
                break
            rows.append(row)
        rows.reverse()
        evaluations = [e for e in record.evaluations if e["step"] > last]
        steps = [last] + [r["step"] for r in rows] + [e["step"] for e in evaluations]
        self.sent[record.trial.trial_id] = max(steps)
        return rows, evaluations

    def _submit(self, name: str, work: Callable[..., Any], *args: Any) -> None:
        self.queue.put((name, functools.partial(work, *args)))

    # --- the worker thread ---------------------------------------------------------------------

    def _work(self) -> None:
        while (job := self.queue.get()) is not None:
            name, work = job
            if name in self.broken:
                continue
            try:
                work()
            except Exception as exc:  # tracking must never cost a result that is already on disk
                self.broken.add(name)
                self._abandon(name, UNFINISHED)
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                self.warnings.append(
                    f"wandb could not log {name}: {reason} (its files are on disk: `bench sync "
                    f"{self.dest.run_dir}` logs it again)"
                )
        for name in list(self.runs):  # trials the driver never saw end (it was stopped)
            self._abandon(name, UNFINISHED)

    def _run(self, trial: Trial) -> TrialRun:
        if trial.trial_id not in self.runs:
            self.runs[trial.trial_id] = TrialRun(self.dest, trial)
        return self.runs[trial.trial_id]

    def _open(self, trial: Trial) -> None:
        self._run(trial)

    def _log(self, trial: Trial, rows: list[dict], evaluations: list[dict]) -> None:
        self._run(trial).log(rows, evaluations)

    def _finish(self, record: TrialRecord, picture: Path | None) -> None:
        trial_id = record.trial.trial_id
        folder = self._run(record.trial).finish(record, picture)
        del self.runs[trial_id]
        self.ledger.record(
            stable_id(self.dest.run_id, trial_id), trial_id, fingerprint(record), folder
        )

    def _abandon(self, name: str, status: str) -> None:
        """Close a run that will not be finished normally; the ledger does not count it, so a
        resume or `bench sync` logs the trial again from its files."""
        run = self.runs.pop(name, None)
        if run is None:
            return
        with contextlib.suppress(Exception):
            run.run.summary.update({"status": status})
            run.run.tags = (status,)
            run.run.finish(exit_code=1)


def make_tracker(mode: str, suite: Suite, run_dir: Path) -> Tracker:
    """A tracker for one run of `suite`, whose folder names it (the wandb group, the ids' seed)."""
    if mode == "disabled":
        return Tracker()
    tracking = suite.tracking
    return WandbTracker(Destination(mode, tracking.project, tracking.entity, suite.name, run_dir))
