"""Ray Tune wiring, and the only module that knows Ray: connect to a cluster, put each dataset in
the object store once, schedule one Tune trial per bench trial (with its resources, retries from
checkpoints, an optional early-stopping scheduler), and hand every report to the driver's records
as it arrives (RunCallback). bench.run.driver runs a whole suite with these pieces."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ray.tune import Callback, Stopper
from rich.console import Console
from rich.markup import escape

from bench.errors import BenchError
from bench.plugins import import_plugins, plugin_modules
from bench.results.record import FINAL, Files, TrialRecord, TrialSink
from bench.results.store import RunStore
from bench.run.capacity import check_reachable, trials_per_node
from bench.run.progress import ProgressView
from bench.suite.plan import reported_keys
from bench.suite.schema import Suite
from bench.tracking import Tracker
from bench.trial import Trial, checkpoint
from bench.trial.evaluate import DatasetAssets
from bench.trial.report import Status, TrialReport
from bench.trial.train import run_trial

# Tune's own JSON/CSV/TensorBoard loggers would duplicate the results store (and choke on sample
# arrays); bench writes results itself through RunCallback.
os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
# Tune's own console reporter points at its internal folder; bench prints its own progress.
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
# Reports that carry only a checkpoint (or metrics that were not computable) lack the scheduler's
# metric; ASHA simply waits for the next report that has it.
os.environ.setdefault("TUNE_DISABLE_STRICT_METRIC_CHECKING", "1")
# Tune warns when syncing its experiment state is slow, as it is on a busy machine; not actionable.
os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")


BULKY_RESULT_FIELDS = ("history", "files", "traceback", "restored")
KEEP_CHECKPOINTS = 2  # the latest, and the previous one to fall back to when it is corrupted


# --- on the workers ------------------------------------------------------------------------------


def trainable(
    config: dict[str, Any],
    datasets: dict[str, Any],
    resume: dict[str, list[str]],
    plugins: tuple[str, ...],
) -> None:
    """One Tune trial: runs on a worker, talks to the driver only through tune.report. It fetches
    only its own dataset from the object store, and continues from the newest usable checkpoint:
    Tune's own after a worker died, else one left by an earlier driver of this run."""
    import ray

    import_plugins(plugins)  # models, datasets or metrics registered outside bench
    trial = Trial.from_dict(config["trial"])
    assets = ray.get(datasets[trial.dataset_label])
    restored = checkpoint.load_newest(restart_points(resume.get(trial.trial_id, [])))
    report = TuneReport(restored.notes)
    run_trial(trial, assets, report, resume=restored.state, resume_source=restored.source)


def restart_points(earlier: list[str]) -> list[Path]:
    """Checkpoint folders this trial may continue from: those of its current Tune trial (the one
    get_checkpoint returns, and the one kept before it) and those of earlier drivers."""
    from ray import tune

    points = [Path(p) for p in earlier]
    latest = tune.get_checkpoint()
    if latest is not None:
        folder = Path(latest.path)
        points.append(folder)
        if folder.parent.is_dir():  # local or shared storage: the previous one is next to it
            points.extend(folder.parent.glob("checkpoint_*"))
    return [p for p in points if p.is_dir()]


class TuneReport:
    """`report` of the trial loop: a payload's checkpoint dict becomes a Tune checkpoint (written
    into a temporary folder that Tune moves into the run's storage)."""

    def __init__(self, notes: list[str]) -> None:
        import ray

        self.node = ray.get_runtime_context().get_node_id()
        self.notes = list(notes)

    def __call__(self, report: TrialReport) -> None:
        from ray import tune

        state, report.checkpoint = report.checkpoint, None
        report.node = self.node
        report.warnings, self.notes = self.notes, []
        if state is None:
            tune.report(report.to_result())
            return
        with tempfile.TemporaryDirectory(prefix="bench-ckpt-") as folder:
            checkpoint.save(state, Path(folder))
            tune.report(report.to_result(), checkpoint=tune.Checkpoint.from_directory(folder))


# --- on the driver -------------------------------------------------------------------------------


def put_datasets(assets: dict[str, DatasetAssets]) -> dict[str, Any]:
    """Each dataset enters the object store once per suite run; a trial fetches only its own."""
    import ray

    return {label: ray.put(value) for label, value in assets.items()}


def fit(
    suite: Suite,
    store: RunStore,
    callback: RunCallback,
    resume: dict[str, list[str]] | None = None,
) -> None:
    from ray import tune

    todo = [r.trial.to_dict() for r in callback.records.values() if r.status not in FINAL]
    parameters = tune.with_parameters(
        trainable,
        datasets=put_datasets(callback.assets),
        resume=resume or {},
        plugins=plugin_modules(),
    )
    tuner = tune.Tuner(
        tune.with_resources(parameters, tune_resources(suite)),
        param_space={"trial": tune.grid_search(todo)},
        tune_config=tune.TuneConfig(
            trial_name_creator=trial_id_of,
            trial_dirname_creator=trial_id_of,
            reuse_actors=True,  # seed_everything resets every RNG a trial draws from
            scheduler=make_scheduler(suite),
        ),
        run_config=tune.RunConfig(
            name=store.next_experiment(),
            storage_path=str(store.path.resolve()),
            callbacks=[callback],
            stop=WriteFailureStop(callback),
            failure_config=tune.FailureConfig(max_failures=suite.max_failures),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=KEEP_CHECKPOINTS),
            verbose=0,
        ),
    )
    tuner.fit()


def tune_resources(suite: Suite) -> dict[str, Any]:
    res = suite.resources
    return {
        "cpu": res.cpu,
        "gpu": res.gpu,
        **({"custom_resources": res.custom} if res.custom else {}),
    }


def make_scheduler(suite: Suite) -> Any:
    """ASHA on the suite's metric, measured in training steps; None: every trial runs to its end."""
    asha = suite.scheduler.asha
    if asha is None:
        return None
    from ray.tune.schedulers import ASHAScheduler

    return ASHAScheduler(
        time_attr="step",
        metric=f"metrics/{asha.metric}",  # Tune flattens the report's nested `metrics` mapping
        mode=asha.mode or reported_keys(suite)[asha.metric],
        max_t=suite.budget.steps,
        grace_period=asha.grace_period,
        reduction_factor=asha.reduction_factor,
    )


def trial_id_of(tune_trial: Any) -> str:
    return tune_trial.config["trial"]["trial_id"]


class RunCallback(Callback):
    """Runs on the driver: folds every report into the results store as it arrives."""

    def __init__(
        self,
        store: RunStore,
        records: dict[str, TrialRecord],
        tracker: Tracker,
        assets: dict[str, DatasetAssets],
        console: Console,
        progress: ProgressView | None = None,
    ) -> None:
        self.store, self.records, self.tracker = store, records, tracker
        self.assets, self.console = assets, console
        self.progress = progress or ProgressView(console, records, {})
        self.write_error: BenchError | None = None
        for record in records.values():
            if record.status not in FINAL:
                store.write_config(record.trial)

    def __getstate__(self) -> dict[str, Any]:
        """Tune pickles its run config for experiment restore. The live parts (tracker thread,
        console, in-memory records, datasets) belong to the driver process that runs the suite
        and are rebuilt by whichever driver resumes it, so only the run folder is kept."""
        return {"store": self.store}

    @property
    def sinks(self) -> tuple[TrialSink, ...]:
        """Who hears of every record, in order: the store first, so files are on disk before
        the tracker (which logs the sample picture) and the progress view look."""
        return (GuardedStore(self), self.tracker, self.progress)

    def on_trial_start(self, iteration, trials, trial, **info) -> None:
        record = self.records[trial_id_of(trial)]
        if record.status in FINAL:
            return
        record.status = Status.RUNNING
        for sink in self.sinks:
            sink.started(record)

    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        record = self.records[trial_id_of(trial)]
        if record.status in FINAL:
            return  # e.g. a retry of a trial whose worker died just after its final report
        report = TrialReport.from_result(result)
        record.absorb(report)
        for note in report.warnings:
            self.progress.note(f"{record.trial.trial_id}: {note}")
        # Tune keeps every trial's last result in its experiment state and lets callbacks edit it
        # in place; the bulky fields go to disk now, so only the small ones stay with Tune.
        for key in BULKY_RESULT_FIELDS:
            result.pop(key, None)
        self.deliver(record, report.files or {})

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        """A trial ended without a final report of its own: the scheduler stopped it early."""
        record = self.records[trial_id_of(trial)]
        if record.status in FINAL or self.write_error is not None:
            return
        record.status = Status.STOPPED
        shown = ", ".join(f"{k}={v:.4g}" for k, v in record.final["metrics"].items())
        record.error = f"stopped early by the scheduler at step {record.step}" + (
            f" ({shown})" if shown else ""
        )
        self.deliver(record, {})

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        """Tune gave up on a trial (its worker or node died more than max_failures times)."""
        record = self.records[trial_id_of(trial)]
        if record.status in FINAL:
            return
        error = trial.get_error()
        record.status = Status.FAILED
        record.error = f"worker failed: {error}".splitlines()[0] if error else "worker failed"
        self.deliver(record, {})

    def deliver(self, record: TrialRecord, files: Files) -> None:
        """The record, as it now stands, to every sink: finished or reported."""
        for sink in self.sinks:
            if record.status in FINAL:
                sink.finished(record, files)
            else:
                sink.reported(record, files)


class GuardedStore:
    """The run's store as a sink: a results folder that stops taking files (full disk, read-only
    remount) stops the run; what is on disk stays, and `bench run --resume` continues once there
    is room."""

    def __init__(self, callback: RunCallback) -> None:
        self.callback = callback

    def started(self, record: TrialRecord) -> None:
        self.callback.store.started(record)

    def reported(self, record: TrialRecord, files: Files) -> None:
        self.guarded(self.callback.store.reported, record, files)

    def finished(self, record: TrialRecord, files: Files) -> None:
        self.guarded(self.callback.store.finished, record, files)

    def guarded(self, write: Callable[[TrialRecord, Files], None], record, files) -> None:
        callback = self.callback
        try:
            write(record, files)
        except OSError as exc:
            if callback.write_error is None:
                callback.write_error = BenchError(
                    f"cannot write results to {callback.store.path}: {exc.strerror or exc}; the "
                    "run was stopped, trials finished before this are kept",
                    fix=f"free space or fix permissions there, then `bench run --resume "
                    f"{callback.store.path}` finishes the rest",
                )
                callback.console.print(f"[red]error:[/red] {escape(callback.write_error.what)}")


class WriteFailureStop(Stopper):
    """Ends the whole experiment once the results folder has refused a write."""

    def __init__(self, callback: RunCallback) -> None:
        self.callback = callback

    def __getstate__(self) -> dict[str, Any]:
        return {}  # pickled into Tune's experiment state; a resumed driver makes a new one

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return self.stop_all()

    def stop_all(self) -> bool:
        callback = getattr(self, "callback", None)
        return callback is not None and callback.write_error is not None


# --- connecting to Ray ---------------------------------------------------------------------------


def connect(address: str | None, request: dict[str, float]) -> bool:
    """Start a local Ray or join a cluster; True when this call started Ray (and must stop it)."""
    import ray

    if ray.is_initialized():
        check_capacity(request, address)
        return False
    if address and not address.startswith(("ray://", "auto")):
        check_reachable(address)
    try:
        ray.init(
            address=address,
            include_dashboard=False,
            logging_level=logging.ERROR,
            log_to_driver=False,
        )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise BenchError(
            f"could not connect to the Ray cluster at '{address}': {str(exc).splitlines()[0]}",
            fix="start one with `ray start --head` (or check the address), or drop --address to "
            "run on this machine",
        ) from None
    try:
        check_capacity(request, address)
    except BenchError:
        ray.shutdown()
        raise
    return True


# Ray accounts resources in units of 1/10000, so 0.1 GPU times ten is exactly one GPU there.


def check_capacity(request: dict[str, float], address: str | None) -> None:
    """A trial that no node can hold would wait forever: refuse it before submitting."""
    import ray

    nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    if any(trials_per_node(node, request) >= 1 for node in nodes):
        return
    largest = max(nodes, key=lambda n: (n.get("GPU", 0), n.get("CPU", 0)), default={})
    where = f"the cluster at {address}" if address else "this machine"
    asked = ", ".join(f"{v:g} {k}" for k, v in request.items() if v > 0 or k in ("CPU", "GPU"))
    has = ", ".join(
        f"{largest.get(k, 0):g} {k}" for k, v in request.items() if v > 0 or k in ("CPU", "GPU")
    )
    raise BenchError(
        f"each trial asks for {asked}, but no node of {where} has that (largest: {has})",
        fix="lower `resources` in the suite, or run on a cluster with bigger nodes",
    )


def disconnect() -> None:
    import ray

    ray.shutdown()
