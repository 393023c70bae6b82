"""The Ray glue in isolation: the driver callback and the checks made before submitting."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from rich.console import Console

from bench.errors import BenchError
from bench.evaluate import prepare_dataset
from bench.results import RunStore, TrialRecord
from bench.runner import RunCallback, check_capacity
from bench.suite import expand, parse_suite
from bench.tracking import Tracker

SUITE = """\
name: glue
seeds: [0]
budget: {steps: 2, eval_every: 2, eval_samples: 50}
datasets: [ring8]
models: [{name: gan}]
tracking: {wandb: disabled}
"""


class Recorder(Tracker):
    def __init__(self) -> None:
        super().__init__()
        self.finished: list[str] = []

    def trial_finished(self, record, picture) -> None:
        self.finished.append(record.trial.trial_id)


def test_callback_writes_reports_and_leaves_tune_only_the_small_fields(tmp_path):
    suite = parse_suite(SUITE)
    (trial,) = expand(suite)
    store = RunStore.create(tmp_path, suite, 1)
    tracker = Recorder()
    assets = {"ring8": prepare_dataset("ring8", {}, "ring8", 50)}
    callback = RunCallback(store, {trial.trial_id: TrialRecord(trial)}, tracker, assets, Console())
    result = {
        "step": 2,
        "status": "completed",
        "history": [{"step": 1, "loss_d": 1.0}, {"step": 2, "loss_d": 0.5}],
        "metrics": {"fid": 0.25},
        "not_computable": {},
        "samples": np.zeros((50, 2), dtype=np.float32),
        "error": None,
        "traceback": None,
        "wall_s": 0.1,
    }
    callback.on_trial_result(0, [], SimpleNamespace(config={"trial": trial.to_dict()}), result)

    folder = store.trial_dir(trial.trial_id)
    assert json.loads((folder / "metrics.json").read_text())["final"] == {"fid": 0.25}
    assert (folder / "history.csv").read_text().count("\n") == 3
    assert (folder / "samples.png").is_file()
    assert tracker.finished == [trial.trial_id]
    # Tune stores the (edited) result in its experiment state: no history or samples there.
    assert set(result) == {"step", "status", "metrics", "not_computable", "error", "wall_s"}


@pytest.mark.parametrize(
    ("nodes", "cpu", "gpu", "ok"),
    [
        ([{"CPU": 2.0}], 1.0, 0.0, True),
        ([{"CPU": 2.0}], 4.0, 0.0, False),
        ([{"CPU": 8.0}, {"CPU": 8.0, "GPU": 1.0}], 2.0, 0.25, True),  # four trials per GPU
        ([{"CPU": 8.0, "GPU": 1.0}], 1.0, 2.0, False),
        ([{"CPU": 1.0, "GPU": 4.0}, {"CPU": 16.0}], 4.0, 1.0, False),  # no single node has both
    ],
)
def test_capacity_check_refuses_trials_no_node_can_hold(monkeypatch, nodes, cpu, gpu, ok):
    import ray

    alive = [{"Alive": True, "Resources": n} for n in nodes]
    monkeypatch.setattr(ray, "nodes", lambda: alive + [{"Alive": False, "Resources": {"GPU": 99}}])
    if ok:
        check_capacity(cpu, gpu, None)
        return
    with pytest.raises(BenchError, match="no node of this machine has that") as info:
        check_capacity(cpu, gpu, None)
    assert "lower `resources`" in info.value.fix
