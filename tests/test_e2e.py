"""A whole suite through Ray Tune, as a user runs it: results folder, leaderboard, wandb."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import TINY_SUITE, write_suite

pytestmark = pytest.mark.ray
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def bench(*args, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    return subprocess.run(
        [sys.executable, "-m", "bench", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
    )


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("e2e")
    suite = write_suite(folder, TINY_SUITE.replace("wandb: disabled", "wandb: offline"))
    result = bench("run", suite, "--results", folder / "results", cwd=folder)
    (run,) = (folder / "results" / "tiny").iterdir()
    return result, run


def test_the_run_succeeds_and_prints_the_leaderboard(finished_run):
    result, run = finished_run
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Leaderboard" in result.stdout and str(run) in result.stdout.replace("\n", "")


def test_the_run_writes_its_html_report(finished_run):
    _, run = finished_run
    html = (run / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "tiny / " in html
    assert "data:image/png;base64," in html and "http" not in html.split("</style>")[0]


def test_every_trial_leaves_its_files(finished_run):
    _, run = finished_run
    meta = json.loads((run / "run.json").read_text())
    assert meta["status"] == "complete" and meta["counts"] == {"completed": 12}
    assert (run / "suite.yaml").read_text().count("name: tiny") == 1
    trials = sorted((run / "trials").iterdir())
    assert len(trials) == 12
    for folder in trials:
        config = json.loads((folder / "config.json").read_text())
        metrics = json.loads((folder / "metrics.json").read_text())
        assert config["trial_id"] == folder.name == metrics["trial_id"]
        assert metrics["status"] == "completed" and metrics["step"] == 40
        assert [e["step"] for e in metrics["evaluations"]] == [20, 40]
        assert "fid" in metrics["final"]
        rows = list(csv.DictReader(io.StringIO((folder / "history.csv").read_text())))
        assert [int(r["step"]) for r in rows] == list(range(1, 41))
        assert (folder / "samples.png").read_bytes().startswith(PNG_MAGIC)


def test_the_leaderboard_aggregates_seeds(finished_run):
    _, run = finished_run
    rows = list(csv.DictReader(io.StringIO((run / "leaderboard.csv").read_text())))
    assert len(rows) == 6  # 2 datasets x (2 GAN learning rates + 1 VAE)
    assert {r["dataset"] for r in rows} == {"ring8", "digits"}
    assert all(r["seeds"] == "2" and r["completed"] == "2" for r in rows)
    assert all(r["fid_n"] == "2" and float(r["fid_std"]) >= 0 for r in rows)
    ring = [r for r in rows if r["dataset"] == "ring8"]
    assert sorted(int(r["rank"]) for r in ring) == [1, 2, 3]
    assert all(r["modes_mean"] for r in ring)
    markdown = (run / "leaderboard.md").read_text()
    assert "## ring8" in markdown and "## digits" in markdown and " ± " in markdown


def test_leaderboard_command_recomputes_the_same_table(finished_run):
    _, run = finished_run
    result = bench("leaderboard", run.parent, "--format", "csv", cwd=run.parent)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (run / "leaderboard.csv").read_text()


def test_one_wandb_run_per_trial_and_a_leaderboard_run(finished_run):
    from bench.tracking import stable_id
    from tests.tracking.wandb_offline import offline_runs, read_finished

    _, run = finished_run
    copies = offline_runs(run)
    runs = {copy.name: read_finished(copy.folder) for copy in copies}
    trials = sorted(p.name for p in (run / "trials").iterdir())
    assert len(copies) == 13 and sorted(runs) == sorted([*trials, "tiny"])
    assert {r.id for r in runs.values()} == {
        stable_id(run.name, t) for t in [*trials, "leaderboard"]
    }
    assert all(r.group == run.name for r in runs.values())
    for trial in (runs[t] for t in trials):
        assert trial.summary["status"] == "completed" and "final/fid" in trial.summary
        assert [row["_step"] for row in trial.history if "eval/fid" in row] == [20, 40]
    board = runs["tiny"].tables["leaderboard"]
    rows = list(csv.DictReader(io.StringIO((run / "leaderboard.csv").read_text())))
    assert [row[:4] for row in board["data"]] == [
        [r["dataset"], int(r["rank"]), r["model"], r["variant"]] for r in rows
    ]


def test_sync_after_a_live_run_writes_nothing_new(finished_run):
    _, run = finished_run
    before = sorted(p.name for p in (run / "wandb").iterdir())
    result = bench("sync", run, cwd=run.parent)
    assert result.returncode == 0, result.stderr
    assert "0 wandb runs (re)written offline, 13 already up to date" in " ".join(
        result.stdout.split()
    )
    assert sorted(p.name for p in (run / "wandb").iterdir()) == before


DIVERGING = """\
name: mixed
seeds: [0]
budget: {steps: 40, eval_every: 20, eval_samples: 200}
datasets: [ring8]
models:
  - {name: vae, hparams: {lr: [1.0e-3, 1.0e+6]}}   # Adam at lr 1e6 turns the loss NaN at step 2
tracking: {wandb: disabled}
"""


def test_a_diverging_trial_is_recorded_and_the_rest_of_the_suite_goes_on(tmp_path):
    suite = write_suite(tmp_path, DIVERGING)
    result = bench("run", suite, "--results", tmp_path / "results", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "not every trial completed (1 completed, 1 diverged)" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    (run,) = (tmp_path / "results" / "mixed").iterdir()
    assert json.loads((run / "run.json").read_text())["status"] == "complete"
    statuses = {
        json.loads(f.read_text())["status"]: json.loads(f.read_text())
        for f in run.glob("trials/*/metrics.json")
    }
    assert statuses["diverged"]["step"] == 2
    assert "diverged at step 2: loss became nan" in statuses["diverged"]["error"]
    assert statuses["completed"]["final"]["fid"] >= 0
    board = (run / "leaderboard.md").read_text()
    assert "Trials that did not complete" in board and "loss became nan" in board
    assert "| 0/1 |" in board and "| 1/1 |" in board


LONG = """\
name: long
seeds: [0, 1, 2]
budget: {steps: 50000, eval_every: 100, eval_samples: 200}
datasets: [ring8]
models: [{name: gan, hparams: {hidden: 16}}]
tracking: {wandb: disabled}
"""


def test_an_interrupted_run_keeps_its_results_and_never_looks_complete(tmp_path):
    suite = write_suite(tmp_path, LONG)
    env = {**os.environ, "WANDB_MODE": "disabled"}
    process = subprocess.Popen(
        [sys.executable, "-m", "bench", "run", str(suite), "--results", "results"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    results = tmp_path / "results" / "long"
    deadline = time.monotonic() + 120
    while not list(results.glob("*/trials/*/metrics.json")) and time.monotonic() < deadline:
        time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stdout + stderr
    assert "interrupted" in stderr and "Traceback" not in stdout + stderr
    (run,) = results.iterdir()
    assert json.loads((run / "run.json").read_text())["status"] == "interrupted"
    assert not (run / "leaderboard.csv").exists() and not (run / "leaderboard.md").exists()
    reported = [json.loads(f.read_text()) for f in run.glob("trials/*/metrics.json")]
    assert reported and all(m["evaluations"] for m in reported)  # progress so far is kept
    board = bench("leaderboard", run, "--format", "md", cwd=tmp_path)
    assert board.returncode == 0 and "incomplete: run status 'interrupted'" in board.stdout


SCHEDULED = """\
name: scheduled
seeds: [0, 1]
budget: {steps: 60, eval_schedule: {log: 3, first: 10}, eval_samples: 200}
datasets: [ring8]
models: [{name: gan, hparams: {lr: [1.0e-4, 1.0e-3], hidden: 16, batch_size: 32}}]
metrics: [fid]
scheduler: {asha: {metric: fid, grace_period: 10, reduction_factor: 2}}
tracking: {wandb: disabled}
"""


def test_a_log_spaced_schedule_runs_under_asha_with_checkpoints(tmp_path):
    suite = write_suite(tmp_path, SCHEDULED)
    result = bench("run", suite, "--results", tmp_path / "results", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    (run,) = (tmp_path / "results" / "scheduled").iterdir()
    schedule = [10, 24, 60]  # log-spaced from 10 to 60
    for path in run.glob("trials/*/metrics.json"):
        metrics = json.loads(path.read_text())
        steps = [e["step"] for e in metrics["evaluations"]]
        assert metrics["status"] in ("completed", "stopped")
        assert steps == schedule[: len(steps)] and steps
        if metrics["status"] == "completed":
            assert steps == schedule
    assert list(run.glob("tune/*/checkpoint_*"))  # every 6 steps (steps / 10)
