"""A simulated multi-node cluster (ray.cluster_utils.Cluster): trials spread over the nodes; a node
removed mid-run, a worker that dies and a model that raises. Every trial ends, each result exactly
once; the trials hit by a death continue from their checkpoints and end with the same numbers as an
uninterrupted run; the model bug is reported, not retried."""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path

import pytest
from rich.console import Console

from bench.plugins import PLUGINS_ENV
from bench.suite import expand, parse_suite
from bench.trial.evaluate import prepare_dataset
from bench.trial.train import run_trial

pytestmark = pytest.mark.ray
ROOT = Path(__file__).resolve().parents[2]

SUITE = """\
name: cluster
seeds: [0]
budget: {{steps: 30, eval_every: 10, checkpoint_every: 10, eval_samples: 200}}
resources: {{cpu: 1, gpu: 0}}
datasets: [{{name: ring8, params: {{n_samples: 1000}}}}]
models:
  - {{name: t_fault, label: node_lost, hparams: {{fault: pause, marker: "{tmp}/pause", {common}}}}}
  - {{name: t_fault, label: worker_died, hparams: {{fault: exit, marker: "{tmp}/exit", {common}}}}}
  - {{name: t_fault, label: bug, hparams: {{fault: raise, marker: "{tmp}/raise", {common}}}}}
  - {{name: gan, hparams: {{{common}}}}}
metrics: [fid]
tracking: {{wandb: disabled}}
max_failures: 2
"""
COMMON = "hidden: 16, batch_size: 32"


@pytest.fixture
def faults_plugin(monkeypatch):
    """Register the fault-injecting model here and in every Ray worker (they inherit the env)."""
    import sys

    from bench.models import MODELS

    monkeypatch.setenv(PLUGINS_ENV, "tests.faults")
    monkeypatch.setenv("PYTHONPATH", f"{ROOT}:{__import__('os').environ.get('PYTHONPATH', '')}")
    yield
    if "t_fault" in MODELS.names():
        MODELS.remove("t_fault")
    sys.modules.pop("tests.faults", None)


@pytest.fixture
def cluster(faults_plugin):
    import ray
    from ray.cluster_utils import Cluster

    # the head takes no trials, so the node the test removes is always a worker node
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    for _ in range(2):
        cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False)
    yield cluster
    ray.shutdown()
    cluster.shutdown()


def remove_node_when_paused(cluster, marker: Path, removed: list[str]) -> None:
    """Waits for the pausing trial to reach its fault (after a checkpoint), then takes its node."""
    deadline = time.monotonic() + 240
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    if not marker.exists():
        return
    node_id = marker.read_text().strip()
    for node in list(cluster.worker_nodes):
        if node.node_id == node_id:
            cluster.remove_node(node)
            removed.append(node_id)
            return


def test_trials_spread_survive_a_lost_node_and_a_dead_worker(cluster, tmp_path):
    from bench.run.driver import run_suite

    suite = parse_suite(SUITE.format(tmp=tmp_path, common=COMMON))
    trials = expand(suite)
    removed: list[str] = []
    watcher = threading.Thread(
        target=remove_node_when_paused, args=(cluster, tmp_path / "pause", removed), daemon=True
    )
    watcher.start()
    outcome = run_suite(
        suite,
        trials,
        tmp_path / "results",
        address=cluster.address,
        wandb_mode="disabled",
        console=Console(file=io.StringIO()),
    )
    watcher.join(timeout=5)
    assert removed, "the pausing trial never reached its fault"

    metrics = {
        t.model_label: json.loads(
            (outcome.store.trial_dir(t.trial_id) / "metrics.json").read_text()
        )
        for t in trials
    }
    assert outcome.counts == {"completed": 3, "error": 1}
    # spread: the trials ran on both worker nodes
    assert len({node for m in metrics.values() for node in m["nodes"]}) == 2
    # the lost node's trial moved to the other node and continued from its step-10 checkpoint
    lost = metrics["node_lost"]
    assert lost["status"] == "completed" and lost["restored_from"] == [10]
    assert lost["nodes"][0] == removed[0] and lost["nodes"][-1] != removed[0]
    # the dead worker's trial too
    assert metrics["worker_died"]["status"] == "completed"
    assert metrics["worker_died"]["restored_from"] == [10]
    # the model bug was reported once, with its error, and never retried
    bug = metrics["bug"]
    assert bug["status"] == "error" and "injected model bug" in bug["error"]
    assert bug["restored_from"] == [] and len(bug["nodes"]) == 1
    # no result lost or duplicated, and the same numbers as without any failure
    assets = prepare_dataset("ring8", {"n_samples": 1000}, trials[0].dataset_label, 200)
    for trial in trials:
        folder = outcome.store.trial_dir(trial.trial_id)
        steps = [
            int(line.split(",")[0]) for line in (folder / "history.csv").read_text().split()[1:]
        ]
        if trial.model_label == "bug":
            assert steps == list(range(1, 15))
            continue
        assert steps == list(range(1, 31))
        assert [e["step"] for e in metrics[trial.model_label]["evaluations"]] == [10, 20, 30]
        reports: list = []
        run_trial(trial, assets, reports.append)  # uninterrupted, in this process
        assert metrics[trial.model_label]["final"] == reports[-1].metrics
