"""Ray Tune wiring only: connect, prepare datasets once, schedule one Tune trial per bench trial,
and hand every report to the results store and the tracker as it arrives."""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ray.tune import Callback
from rich.console import Console
from rich.markup import escape

from bench.errors import BenchError
from bench.evaluate import DatasetAssets, prepare_dataset
from bench.report import PREVIEW_POINTS, samples_png
from bench.results import FINAL, Leaderboard, RunStore, TrialRecord, ensure_writable
from bench.suite import Suite, Trial
from bench.tracking import Tracker, make_tracker, require_wandb_login
from bench.train import run_trial

# Tune's own JSON/CSV/TensorBoard loggers would duplicate the results store (and choke on sample
# arrays); bench writes results itself through RunCallback.
os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
# Tune's own console reporter points at its internal folder; bench prints its own progress.
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")


BULKY_RESULT_FIELDS = ("history", "samples", "traceback")


@dataclass
class RunOutcome:
    store: RunStore
    board: Leaderboard
    counts: dict[str, int]
    warnings: list[str]
    status: str  # "complete", or "interrupted" when the driver was stopped before the end

    @property
    def all_completed(self) -> bool:
        return set(self.counts) <= {"completed"}


def trainable(config: dict[str, Any], assets: dict[str, DatasetAssets]) -> None:
    """One Tune trial: runs on a worker, talks to the driver only through tune.report."""
    from ray import tune

    trial = Trial.from_dict(config["trial"])
    run_trial(trial, assets[trial.dataset_label], tune.report)


def run_suite(
    suite: Suite,
    trials: list[Trial],
    results_root: Path,
    address: str | None = None,
    wandb_mode: str | None = None,
    console: Console | None = None,
) -> RunOutcome:
    """Everything that can fail on the user's input (address, capacity, data, credentials) fails
    before the run folder exists; once it exists, every report lands on disk as it arrives."""
    console = console or Console()
    ensure_writable(Path(results_root) / suite.name)
    mode = wandb_mode or suite.tracking.wandb
    if mode == "online":
        require_wandb_login()
    started_ray = connect(address, suite.resources.cpu, suite.resources.gpu)
    try:
        assets = prepare_assets(suite, trials, console)
        store = RunStore.create(results_root, suite, len(trials))
        console.print(f"run folder: {store.path}")
        return execute(suite, trials, store, assets, mode, console)
    finally:
        if started_ray:
            import ray

            ray.shutdown()


def execute(
    suite: Suite,
    trials: list[Trial],
    store: RunStore,
    assets: dict[str, DatasetAssets],
    mode: str,
    console: Console,
) -> RunOutcome:
    tracking = suite.tracking
    tracker = make_tracker(mode, tracking.project, tracking.entity, store.run_id, store.path)
    records = {t.trial_id: TrialRecord(t) for t in trials}
    try:
        fit(suite, store, RunCallback(store, records, tracker, assets, console))
    except BaseException:
        store.mark("interrupted", count_statuses(records.values()))
        raise
    finally:
        warnings = tracker.close()
    counts = count_statuses(records.values())
    finished = all(r.status in FINAL for r in records.values())
    status = "complete" if finished else "interrupted"
    return RunOutcome(store, store.finish(status, counts), counts, warnings, status)


def prepare_assets(suite: Suite, trials: list[Trial], console: Console) -> dict[str, DatasetAssets]:
    """Load every dataset and fit its feature space once, on the driver."""
    assets = {}
    for ref in suite.datasets:
        if ref.label in assets or not any(t.dataset_label == ref.label for t in trials):
            continue
        console.print(f"preparing dataset {ref.label} …")
        assets[ref.label] = prepare_dataset(
            ref.name, ref.params, ref.label, suite.budget.eval_samples
        )
    return assets


def fit(suite: Suite, store: RunStore, callback: RunCallback) -> None:
    from ray import tune

    resources = {"cpu": suite.resources.cpu, "gpu": suite.resources.gpu}
    runnable = tune.with_resources(
        tune.with_parameters(trainable, assets=callback.assets), resources
    )
    tuner = tune.Tuner(
        runnable,
        param_space={
            "trial": tune.grid_search([r.trial.to_dict() for r in callback.records.values()])
        },
        tune_config=tune.TuneConfig(
            trial_name_creator=trial_id_of,
            trial_dirname_creator=trial_id_of,
            reuse_actors=True,
        ),
        run_config=tune.RunConfig(
            name="tune",
            storage_path=str(store.path.resolve()),
            callbacks=[callback],
            failure_config=tune.FailureConfig(max_failures=suite.max_failures),
            verbose=0,
        ),
    )
    tuner.fit()


def trial_id_of(tune_trial: Any) -> str:
    return tune_trial.config["trial"]["trial_id"]


def count_statuses(records: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in records:
        counts[record.status] = counts.get(record.status, 0) + 1
    return counts


class RunCallback(Callback):
    """Runs on the driver: folds every report into the results store as it arrives."""

    def __init__(
        self,
        store: RunStore,
        records: dict[str, TrialRecord],
        tracker: Tracker,
        assets: dict[str, DatasetAssets],
        console: Console,
    ) -> None:
        self.store, self.records, self.tracker = store, records, tracker
        self.assets, self.console = assets, console
        for record in records.values():
            store.write_config(record.trial)

    def __getstate__(self) -> dict[str, Any]:
        """Tune pickles its run config for experiment restore. The live parts (tracker thread,
        console, in-memory records, datasets) belong to the driver process that runs the suite
        and are rebuilt by whichever driver resumes it, so only the run folder is kept."""
        return {"store": self.store}

    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        record = self.records[trial_id_of(trial)]
        record.absorb(result)
        picture = self.picture(record, result.get("samples"))
        self.store.write_trial(record, picture)
        # Tune keeps every trial's last result in its experiment state and lets callbacks edit it
        # in place; the bulky fields are on disk now, so only the small ones stay with Tune.
        for key in BULKY_RESULT_FIELDS:
            result.pop(key, None)
        if record.status in FINAL:
            self.finished(record, picture is not None)

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        """Tune gave up on a trial (its worker or node died more than max_failures times)."""
        record = self.records[trial_id_of(trial)]
        if record.status in FINAL:
            return
        error = trial.get_error()
        record.status = "failed"
        record.error = f"worker failed: {error}".splitlines()[0] if error else "worker failed"
        self.store.write_trial(record)
        self.finished(record, False)

    def picture(self, record: TrialRecord, samples: Any) -> bytes | None:
        if samples is None:
            return None
        assets = self.assets[record.trial.dataset_label]
        reference = assets.splits.train[:PREVIEW_POINTS].numpy()
        return samples_png(samples, assets.info, reference)

    def finished(self, record: TrialRecord, has_picture: bool) -> None:
        folder = self.store.trial_dir(record.trial.trial_id)
        self.tracker.trial_finished(record, folder / "samples.png" if has_picture else None)
        metrics = record.final["metrics"]
        shown = "  ".join(f"{k}={v:.4g}" for k, v in list(metrics.items())[:4])
        colour = "green" if record.status == "completed" else "red"
        error = f"  {record.error}" if record.error else ""
        self.console.print(
            f"[{colour}]{record.status:>9}[/{colour}] {escape(record.trial.trial_id)} "
            f"step {record.step} in {record.wall_s:.1f}s  {escape(shown)}{escape(error)}"
        )


# --- connecting to Ray ---------------------------------------------------------------------------


def connect(address: str | None, cpu: float, gpu: float) -> bool:
    """Start a local Ray or join a cluster; True when this call started Ray (and must stop it)."""
    import ray

    if ray.is_initialized():
        check_capacity(cpu, gpu, address)
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
    check_capacity(cpu, gpu, address)
    return True


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise BenchError(
            f"'{address}' is not a Ray address",
            fix="use auto, HOST:PORT (e.g. 10.0.0.5:6379) or ray://HOST:10001",
        )
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            pass
    except OSError as exc:
        raise BenchError(
            f"no Ray cluster answers at {address}: {exc.strerror or exc}",
            fix="start the cluster's head with `ray start --head` and pass the address it prints "
            "(`ray status` on the head shows it), or drop --address to run on this machine",
        ) from None


def check_capacity(cpu: float, gpu: float, address: str | None) -> None:
    """A trial that no node can hold would wait forever: refuse it before submitting."""
    import ray

    nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    if any(n.get("CPU", 0) >= cpu and n.get("GPU", 0) >= gpu for n in nodes):
        return
    largest = max(nodes, key=lambda n: (n.get("GPU", 0), n.get("CPU", 0)), default={})
    where = f"the cluster at {address}" if address else "this machine"
    raise BenchError(
        f"each trial asks for {cpu:g} CPU and {gpu:g} GPU, but no node of {where} has that "
        f"(largest: {largest.get('CPU', 0):g} CPU, {largest.get('GPU', 0):g} GPU)",
        fix="lower `resources` in the suite, or run on a cluster with bigger nodes",
    )
