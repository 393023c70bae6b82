"""What bench hands wandb, and how tracking fails without costing results."""

from __future__ import annotations

import pytest

from bench.errors import BenchError
from bench.results.record import TrialRecord
from bench.suite import expand, parse_suite
from bench.tracking import WandbTracker, merged_history, require_wandb_login, wandb_config

SUITE = """\
name: track
seeds: [4]
budget: {steps: 4, eval_every: 2, eval_samples: 10}
datasets: [ring8]
models: [{name: gan, hparams: {lr: [1.0e-4, 2.0e-4]}}]
"""


@pytest.fixture
def record():
    record = TrialRecord(expand(parse_suite(SUITE))[0])
    record.history = [{"step": s, "loss_d": 1.0 / s} for s in range(1, 5)]
    record.evaluations = [
        {"step": 2, "metrics": {"fid": 3.0}, "not_computable": {}},
        {"step": 4, "metrics": {"fid": 1.0}, "not_computable": {}},
    ]
    record.status, record.step = "completed", 4
    return record


def test_history_and_evaluations_are_merged_by_step(record):
    merged = merged_history(record)
    assert list(merged) == [1, 2, 3, 4]
    assert merged[2] == {"loss_d": 0.5, "eval/fid": 3.0}
    assert merged[3] == {"loss_d": 1.0 / 3}


def test_config_holds_the_hyperparameters_and_the_trial_identity(record):
    config = wandb_config(record)
    assert config["lr"] == 1e-4 and config["latent_dim"] == 16
    assert (config["model"], config["dataset"], config["seed"], config["steps"]) == (
        "gan",
        "ring8",
        4,
        4,
    )


def test_a_tracking_failure_is_a_warning_not_a_lost_result(record, tmp_path):
    tracker = WandbTracker("no-such-mode", "bench", None, "group", tmp_path)
    tracker.trial_finished(record, None)
    (warning,) = tracker.close()
    assert warning.startswith(f"wandb could not log {record.trial.trial_id}")


def test_online_mode_without_a_login_is_refused_up_front(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc
    with pytest.raises(BenchError, match="needs a wandb login") as info:
        require_wandb_login()
    assert "wandb login" in info.value.fix and "--wandb offline" in info.value.fix
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    require_wandb_login()
