"""The Ray glue in isolation: the driver callback and the checks made before submitting."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace

import pytest
from rich.console import Console

from bench.errors import BenchError
from bench.results.record import TrialRecord
from bench.results.store import RunStore
from bench.run.capacity import concurrency, trials_per_node
from bench.run.tune import RunCallback, check_capacity, tune_resources
from bench.suite import expand, parse_suite
from bench.tracking import Tracker
from bench.trial.evaluate import prepare_dataset
from bench.trial.report import TrialReport

SUITE = """\
name: glue
seeds: [0]
budget: {steps: 2, eval_every: 2, eval_samples: 50}
datasets: [ring8]
models: [{name: gan}]
tracking: {wandb: disabled}
"""


REPORT = {
    "step": 2,
    "status": "completed",
    "history": [{"step": 1, "loss_d": 1.0}, {"step": 2, "loss_d": 0.5}],
    "metrics": {"fid": 0.25},
    "not_computable": {},
    "files": None,
    "error": None,
    "traceback": None,
    "wall_s": 0.1,
}


class Recorder(Tracker):
    def __init__(self) -> None:
        super().__init__()
        self.ended: list[str] = []

    def finished(self, record, files=None) -> None:
        self.ended.append(record.trial.trial_id)


def test_callback_writes_reports_and_leaves_tune_only_the_small_fields(tmp_path):
    suite = parse_suite(SUITE)
    (trial,) = expand(suite)
    store = RunStore.create(tmp_path, suite, 1)
    tracker = Recorder()
    assets = {"ring8": prepare_dataset("ring8", {}, "ring8", 50)}
    callback = RunCallback(store, {trial.trial_id: TrialRecord(trial)}, tracker, assets, Console())
    result = {**REPORT, "files": {"samples.png": b"\x89PNG fake", "modes.png": b"\x89PNG"}}
    callback.on_trial_result(0, [], SimpleNamespace(config={"trial": trial.to_dict()}), result)

    folder = store.trial_dir(trial.trial_id)
    assert json.loads((folder / "metrics.json").read_text())["final"] == {"fid": 0.25}
    assert (folder / "history.csv").read_text().count("\n") == 3
    assert (folder / "samples.png").read_bytes() == b"\x89PNG fake"
    assert (folder / "modes.png").is_file()
    assert tracker.ended == [trial.trial_id]
    # Tune stores the (edited) result in its experiment state: no history or samples there.
    assert set(result) == {"step", "status", "metrics", "not_computable", "error", "wall_s"}


@pytest.mark.parametrize(
    ("nodes", "request_", "ok"),
    [
        ([{"CPU": 2.0}], {"CPU": 1.0, "GPU": 0.0}, True),
        ([{"CPU": 2.0}], {"CPU": 4.0, "GPU": 0.0}, False),
        ([{"CPU": 8.0}, {"CPU": 8.0, "GPU": 1.0}], {"CPU": 2.0, "GPU": 0.25}, True),
        ([{"CPU": 8.0, "GPU": 1.0}], {"CPU": 1.0, "GPU": 2.0}, False),
        ([{"CPU": 1.0, "GPU": 4.0}, {"CPU": 16.0}], {"CPU": 4.0, "GPU": 1.0}, False),  # no one node
        ([{"CPU": 8.0, "GPU": 1.0}], {"CPU": 1.0, "GPU": 0.0, "a100": 1.0}, False),
        ([{"CPU": 8.0, "a100": 2.0}], {"CPU": 1.0, "GPU": 0.0, "a100": 1.0}, True),
    ],
)
def test_capacity_check_refuses_trials_no_node_can_hold(monkeypatch, nodes, request_, ok):
    import ray

    alive = [{"Alive": True, "Resources": n} for n in nodes]
    monkeypatch.setattr(ray, "nodes", lambda: alive + [{"Alive": False, "Resources": {"GPU": 99}}])
    if ok:
        check_capacity(request_, None)
        return
    with pytest.raises(BenchError, match="no node of this machine has that") as info:
        check_capacity(request_, None)
    assert "lower `resources`" in info.value.fix


@pytest.mark.parametrize(
    ("node", "request_", "fits"),
    [
        ({"CPU": 8.0, "GPU": 1.0}, {"CPU": 1.0, "GPU": 0.25}, 4),  # four trials share the GPU
        ({"CPU": 8.0, "GPU": 1.0}, {"CPU": 1.0, "GPU": 0.5}, 2),
        ({"CPU": 2.0, "GPU": 1.0}, {"CPU": 1.0, "GPU": 0.25}, 2),  # CPUs are the scarcer here
        ({"CPU": 16.0, "GPU": 1.0}, {"CPU": 1.0, "GPU": 0.1}, 10),  # 0.1 x 10 is exactly one
        ({"CPU": 16.0, "GPU": 2.0}, {"CPU": 1.0, "GPU": 0.3}, 6),  # 3 per GPU, never 2 x 0.3 + ..
        ({"CPU": 16.0, "GPU": 4.0}, {"CPU": 1.0, "GPU": 2.0}, 2),
        ({"CPU": 16.0}, {"CPU": 0.5, "GPU": 0.0}, 32),
        ({"CPU": 16.0, "GPU": 1.0}, {"CPU": 1.0, "GPU": 0.0, "a100": 1.0}, 0),
    ],
)
def test_fractional_gpu_packing_arithmetic(node, request_, fits):
    assert trials_per_node(node, request_) == fits


def test_cluster_concurrency_sums_its_nodes():
    nodes = [{"CPU": 4.0, "GPU": 1.0}, {"CPU": 4.0, "GPU": 1.0}, {"CPU": 32.0}]
    assert concurrency(nodes, {"CPU": 1.0, "GPU": 0.25}) == 8
    assert concurrency(nodes, {"CPU": 1.0, "GPU": 0.0}) == 40


def test_suite_resources_become_one_ray_request_with_custom_resources():
    suite = parse_suite(SUITE + "resources: {cpu: 2, gpu: 0.25, custom: {a100: 1}}\n")
    assert suite.resources.request() == {"CPU": 2.0, "GPU": 0.25, "a100": 1.0}
    assert tune_resources(suite) == {"cpu": 2.0, "gpu": 0.25, "custom_resources": {"a100": 1.0}}


def test_a_results_disk_that_refuses_writes_stops_the_run_keeping_what_is_there(
    tmp_path, monkeypatch
):
    import errno

    from bench.run.tune import WriteFailureStop

    suite = parse_suite(SUITE)
    (trial,) = expand(suite)
    store = RunStore.create(tmp_path, suite, 1)
    console = Console(file=io.StringIO())
    callback = RunCallback(store, {trial.trial_id: TrialRecord(trial)}, Recorder(), {}, console)
    stop = WriteFailureStop(callback)
    assert not stop.stop_all()

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store, "write_trial", full)
    result = {**REPORT, "status": "running", "files": None}
    callback.on_trial_result(0, [], SimpleNamespace(config={"trial": trial.to_dict()}), result)
    assert stop.stop_all() and stop(trial.trial_id, {})
    error = callback.write_error
    assert "No space left on device" in error.what and "--resume" in error.fix
    assert (store.trial_dir(trial.trial_id) / "config.json").is_file()  # what was there stays


def test_progress_prints_one_plain_line_per_event_outside_a_terminal():
    from bench.run.progress import ProgressView

    suite = parse_suite(SUITE.replace("seeds: [0]", "seeds: [0, 1]"))
    records = {t.trial_id: TrialRecord(t) for t in expand(suite)}
    buffer = io.StringIO()
    view = ProgressView(Console(file=buffer, width=40), records, {"fid": "min"})
    first, second = records.values()
    with view:
        first.status = "running"
        view.started(first)
        first.absorb(TrialReport.from_result({**REPORT, "metrics": {"fid": 0.5}}))
        view.finished(first)
        second.status, second.error = "error", "RuntimeError: boom"
        view.finished(second)
    lines = buffer.getvalue().splitlines()
    assert len(lines) == 4  # header, started, two finished: narrow or not, one line each
    assert "started" in lines[1] and "1 running" in lines[1]
    assert "completed" in lines[2] and "best ring8 fid 0.5 (gan)" in lines[2]
    assert "RuntimeError: boom" in lines[3] and "2/2 done (1 failed)" in lines[3]
    assert "ETA 0m00s" in lines[3]
