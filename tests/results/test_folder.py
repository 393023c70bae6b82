"""The run folder's one reader and writer: every trial read back as written, older formats
brought up to date in one place, and a damaged file refused naming it."""

from __future__ import annotations

import json

import pytest

from bench.errors import BenchError
from bench.results.folder import FORMAT, RunFolder, upgrade
from bench.suite import expand, parse_suite

SUITE = """\
name: folder
seeds: [0]
budget: {steps: 10, eval_every: 5, eval_samples: 100}
datasets: [ring8]
models: [{name: gan}]
metrics: [fid, stability]
tracking: {wandb: disabled}
"""


@pytest.fixture
def trial():
    (only,) = expand(parse_suite(SUITE))
    return only


def test_a_trial_reads_back_as_it_was_written(tmp_path, trial):
    folder = RunFolder(tmp_path)
    folder.write_config(trial)
    assert folder.trial(trial.trial_id).metrics == {}  # not reported yet: pending
    rows = [{"step": 1, "loss_d": 0.5}, {"step": 2, "loss_d": 0.25, "loss_g": 1.0}]
    folder.write_results(trial.trial_id, {"status": "completed", "final": {"fid": 1.0}}, rows)
    (result,) = folder.trials()
    assert result.trial == trial and result.status == "completed" and result.final == {"fid": 1.0}
    assert result.metrics["format"] == FORMAT
    assert result.history() == rows
    assert folder.pairs() == [(trial, result.metrics)]


def test_format_1_keeps_stability_beside_final_and_is_upgraded(trial):
    old = {"status": "completed", "final": {"fid": 2.0}, "stability": {"diverged": 0.0}}
    bare = type(trial)(**{**trial.__dict__, "metrics": ("fid",)})
    upgraded_trial, upgraded = upgrade(bare, old)
    assert upgraded["final"] == {"fid": 2.0, "diverged": 0.0} and "stability" not in upgraded
    assert upgraded["format"] == FORMAT and "stability" in upgraded_trial.metrics
    assert upgrade(upgraded_trial, upgraded) == (upgraded_trial, upgraded)  # current: untouched
    assert old["stability"] == {"diverged": 0.0}  # the caller's copy is not edited


def test_a_damaged_file_is_refused_naming_it(tmp_path, trial):
    folder = RunFolder(tmp_path)
    folder.write_config(trial)
    metrics = folder.trial_dir(trial.trial_id) / "metrics.json"
    metrics.write_text('{"status": "compl')  # a copy cut short
    with pytest.raises(BenchError) as caught:
        folder.trial(trial.trial_id)
    assert str(metrics) in str(caught.value)
    history = folder.trial_dir(trial.trial_id) / "history.csv"
    metrics.write_text(json.dumps({"status": "completed"}))
    history.write_text("step,loss\nnot-a-step,1.0\n")
    with pytest.raises(BenchError) as caught:
        folder.trial(trial.trial_id).history()
    assert str(history) in str(caught.value)


def test_a_config_that_is_json_but_not_a_trial_is_refused_naming_it(tmp_path, trial):
    folder = RunFolder(tmp_path)
    folder.write_config(trial)
    config = folder.trial_dir(trial.trial_id) / "config.json"
    config.write_text(json.dumps({"trial_id": trial.trial_id}))  # valid JSON, not a config
    with pytest.raises(BenchError) as caught:
        folder.trials()
    assert str(config) in str(caught.value) and "lacks" in str(caught.value)
    config.write_text("[1, 2]")  # not an object at all
    with pytest.raises(BenchError) as caught:
        folder.trials()
    assert "config.json" in str(caught.value)
    damaged = {**trial.to_dict(), "budget": [1, 2]}  # a mapping that became a list
    config.write_text(json.dumps(damaged))
    with pytest.raises(BenchError) as caught:
        folder.trials()
    assert str(config) in str(caught.value) and "budget should be a mapping" in str(caught.value)
