"""The driver of one suite run: everything the user's input can get wrong is checked before the
run folder is created (address, capacity, datasets, credentials, the run to resume); then the
trials run through Ray Tune (bench.run.tune) while every report lands on disk, in the tracker and in
the progress view; at the end the leaderboard is aggregated and, for a complete run, written."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from bench.metrics.base import ranking_keys
from bench.report.markdown import write_leaderboard
from bench.results.aggregate import Leaderboard
from bench.results.record import FINAL, TrialRecord, count_statuses
from bench.results.resume import ResumePlan, plan_resume
from bench.results.store import RunStore, ensure_writable
from bench.run.progress import ProgressView
from bench.run.tune import RunCallback, connect, disconnect, fit
from bench.suite.plan import metric_names, reference_samples
from bench.suite.schema import Suite
from bench.tracking import make_tracker, require_wandb_login
from bench.trial import Trial
from bench.trial.evaluate import DatasetAssets, prepare_dataset
from bench.trial.report import Status


@dataclass
class RunOutcome:
    store: RunStore
    board: Leaderboard
    counts: dict[str, int]
    warnings: list[str]
    status: str  # "complete", or "interrupted" when the driver was stopped before the end

    @property
    def all_completed(self) -> bool:
        """Trials stopped early by the scheduler did what the suite asked of them."""
        return set(self.counts) <= {Status.COMPLETED, Status.STOPPED}


def run_suite(
    suite: Suite,
    trials: list[Trial],
    results_root: Path,
    address: str | None = None,
    wandb_mode: str | None = None,
    console: Console | None = None,
    resume: Path | None = None,
) -> RunOutcome:
    """Everything that can fail on the user's input (address, capacity, data, credentials, a run
    to resume that is not this suite's) fails before the run folder is created or touched; once
    it is, every report lands on disk as it arrives. With `resume`, trials already finished in
    that run folder are kept as they are and the rest continue from their checkpoints."""
    console = console or Console()
    store = plan = None
    if resume is not None:
        store = RunStore.open(resume)
        ensure_writable(store.path)
        plan = plan_resume(store, trials)
    else:
        ensure_writable(Path(results_root) / suite.name)
    mode = wandb_mode or suite.tracking.wandb
    if mode == "online":
        require_wandb_login()
    todo = [t for t in trials if plan is None or t.trial_id not in plan.finished]
    # a resumed run with nothing left to do needs no cluster: it only rewrites its leaderboard
    started_ray = connect(address, suite.resources.request()) if todo else False
    try:
        assets = prepare_assets(suite, todo, console)
        if store is None:
            store = RunStore.create(results_root, suite, len(trials))
            plan = ResumePlan({}, {})
        else:
            store.reopen()
            console.print(
                f"resuming {store.path}: {len(plan.finished)} of {len(trials)} trials already "
                f"finished, {len(todo)} to go ({sum(map(bool, plan.points.values()))} from a "
                "checkpoint)"
            )
        console.print(f"run folder: {store.path}")
        return execute(suite, trials, store, assets, mode, console, plan)
    finally:
        if started_ray:
            disconnect()


def execute(
    suite: Suite,
    trials: list[Trial],
    store: RunStore,
    assets: dict[str, DatasetAssets],
    mode: str,
    console: Console,
    plan: ResumePlan | None = None,
) -> RunOutcome:
    plan = plan or ResumePlan({}, {})
    tracker = make_tracker(mode, suite, store.path)
    tracker.catch_up(plan.finished)  # those a killed driver finished but never logged
    records = {
        t.trial_id: TrialRecord.from_metrics(t, plan.finished[t.trial_id])
        if t.trial_id in plan.finished
        else TrialRecord(t)
        for t in trials
    }
    # the progress view names the best score per dataset by the key its leaderboard ranks by
    ranked = dict(ranking_keys(metric_names(suite.metrics)))
    progress = ProgressView(console, records, ranked)
    callback = RunCallback(store, records, tracker, assets, console, progress)
    try:
        with progress:
            if any(r.status not in FINAL for r in records.values()):
                fit(suite, store, callback, plan.points)
        if callback.write_error is not None:
            raise callback.write_error
    except BaseException:
        # the disk that stopped the run may refuse this too; the trial files are kept anyway
        with contextlib.suppress(OSError):
            store.mark("interrupted", count_statuses(records.values()))
        tracker.close()  # what was queued is logged; runs of unfinished trials are closed
        raise
    counts = count_statuses(records.values())
    finished = all(r.status in FINAL for r in records.values())
    status = "complete" if finished else "interrupted"
    try:
        board = store.finish(status, counts)
        report_problem = None
        if status == "complete":
            write_leaderboard(store.path, board)
            report_problem = write_run_report(store.path)
            tracker.leaderboard(board)  # after report.html, which its artifact carries
    finally:
        warnings = tracker.close()
    warnings += [report_problem] if report_problem else []
    return RunOutcome(store, board, counts, warnings, status)


def write_run_report(run_dir: Path) -> str | None:
    """report.html into a finished run's folder; a failure to draw it is a warning (with the
    command that retries), never a lost run: every result is on disk already."""
    from bench.report.html import write_report

    try:
        write_report([run_dir])
    except Exception as exc:  # rendering only: the leaderboard files are written
        return f"report.html could not be written ({exc}); retry with `bench report {run_dir}`"
    return None


def prepare_assets(suite: Suite, trials: list[Trial], console: Console) -> dict[str, DatasetAssets]:
    """Load every dataset and fit its feature spaces once, on the driver."""
    assets = {}
    for ref in suite.datasets:
        if ref.label in assets or not any(t.dataset_label == ref.label for t in trials):
            continue
        console.print(f"preparing dataset {ref.label} …")
        assets[ref.label] = prepare_dataset(
            ref.name, ref.params, ref.label, reference_samples(suite), suite.spaces_of(ref)
        )
    return assets
