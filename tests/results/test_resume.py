"""The driver killed mid-suite (SIGKILL: no chance to clean up), then `bench run --resume`: finished
trials are left exactly as they were, the rest finish (the interrupted one from its checkpoint),
and the leaderboard is the one an uninterrupted run produces."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.plugins import PLUGINS_ENV
from bench.results.aggregate import aggregate
from bench.results.record import TrialRecord
from bench.results.store import RunStore
from bench.suite import expand, load_suite
from bench.trial.evaluate import prepare_dataset
from bench.trial.train import run_trial
from tests.conftest import write_suite
from tests.results.runs import KEPT_SUITE

pytestmark = pytest.mark.ray
ROOT = Path(__file__).resolve().parents[2]

SUITE = """\
name: resumable
seeds: [0]
budget: {{steps: 30, eval_every: 10, checkpoint_every: 10, eval_samples: 200}}
datasets: [{{name: ring8, params: {{n_samples: 1000}}}}]
models:
  - {{name: t_fault, label: killed, hparams: {{fault: pause, marker: "{tmp}/pause", {common}}}}}
  - {{name: gan, hparams: {{lr: [1.0e-4, 2.0e-4], {common}}}}}
metrics: [fid]
tracking: {{wandb: disabled}}
"""
COMMON = "hidden: 16, batch_size: 32"


def env() -> dict[str, str]:
    path = f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"
    return {**os.environ, "WANDB_MODE": "disabled", PLUGINS_ENV: "tests.faults", "PYTHONPATH": path}


def bench(*args, cwd: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "bench", *map(str, args)]
    return subprocess.run(command, cwd=cwd, env=env(), capture_output=True, text=True, timeout=300)


def completed(run: Path) -> dict[str, Path]:
    found = {}
    for path in run.glob("trials/*/metrics.json"):
        if json.loads(path.read_text())["status"] == "completed":
            found[path.parent.name] = path.parent
    return found


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()}


def expected_leaderboard(suite_file: Path, tmp: Path) -> str:
    """The same trials run one by one in this process, uninterrupted, aggregated the same way."""
    suite = load_suite(suite_file)
    trials = expand(suite)
    assets = prepare_dataset("ring8", {"n_samples": 1000}, trials[0].dataset_label, 200)
    store = RunStore.create(tmp / "expected", suite, len(trials))
    for trial in trials:
        record = TrialRecord(trial)
        run_trial(trial, assets, record.absorb)
        store.write_config(trial)
        store.write_trial(record)
    # wall-time columns differ between any two runs: the scores and best columns must not
    return store.finish("complete", {"completed": len(trials)}).to_csv(cost=False)


def test_a_killed_driver_resumes_without_rerunning_or_losing_finished_trials(tmp_path, monkeypatch):
    monkeypatch.setenv(PLUGINS_ENV, "tests.faults")
    suite = write_suite(tmp_path, SUITE.format(tmp=tmp_path, common=COMMON))
    command = [sys.executable, "-m", "bench", "run", str(suite), "--results", "results"]
    driver = subprocess.Popen(
        command, cwd=tmp_path, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    results = tmp_path / "results" / "resumable"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and driver.poll() is None:
        runs = list(results.glob("*/run.json"))
        if (tmp_path / "pause").exists() and runs and completed(runs[0].parent):
            break
        time.sleep(0.2)
    assert driver.poll() is None, driver.stderr.read().decode()
    driver.send_signal(signal.SIGKILL)
    driver.wait(timeout=60)
    (run,) = results.iterdir()
    assert json.loads((run / "run.json").read_text())["status"] == "running"  # no clean-up ran
    done_before = {tid: snapshot(folder) for tid, folder in completed(run).items()}
    assert 1 <= len(done_before) <= 2

    result = bench("run", suite, "--resume", run, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(done_before)} of 3 trials already finished" in result.stdout
    meta = json.loads((run / "run.json").read_text())
    assert meta["status"] == "complete" and meta["counts"] == {"completed": 3}
    assert len(meta["resumed"]) == 1
    for tid, files in done_before.items():  # neither rerun nor rewritten
        assert snapshot(run / "trials" / tid) == files
    killed = next(run.glob("trials/killed-*/metrics.json"))
    assert json.loads(killed.read_text())["restored_from"] == [10]
    history = (killed.parent / "history.csv").read_text().split()[1:]
    assert [int(line.split(",")[0]) for line in history] == list(range(1, 31))
    assert aggregate(run).to_csv(cost=False) == expected_leaderboard(suite, tmp_path)

    # once more, in this process: nothing is left, so no Ray starts and the board is the same
    again = CliRunner().invoke(app, ["run", "--resume", str(run)])
    assert again.exit_code == 0, again.output
    assert "3 of 3 trials already finished, 0 to go" in again.output
    assert (run / "leaderboard.csv").is_file()
    assert aggregate(run).to_csv(cost=False) == expected_leaderboard(suite, tmp_path / "b")


def test_a_run_written_before_trials_carried_their_reference_size_still_resumes(tmp_path):
    from bench.results.resume import plan_resume
    from bench.suite import parse_suite

    text = KEPT_SUITE.format(extra="")
    suite = parse_suite(text)
    trials = expand(suite)
    store = RunStore.create(tmp_path, suite, len(trials))
    for trial in trials:  # as an older bench wrote them: no reference_samples in the budget
        store.write_config(trial)
        config = store.trial_dir(trial.trial_id) / "config.json"
        old = json.loads(config.read_text())
        del old["budget"]["reference_samples"]
        config.write_text(json.dumps(old))
    plan = plan_resume(store, trials)
    assert plan.finished == {} and set(plan.points) == {t.trial_id for t in trials}
    assert {store.trial(t.trial_id).trial.budget["reference_samples"] for t in trials} == {200}
