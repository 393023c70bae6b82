"""What bench hands wandb, live: one run per trial with a stable id, logged as reports arrive,
its summary and tags, the leaderboard run; and how tracking fails without costing results.
Offline runs are read back from wandb's own files (tests.tracking.wandb_offline)."""

from __future__ import annotations

import math
import re
from dataclasses import replace

import pytest

from bench.errors import BenchError
from bench.results.aggregate import aggregate
from bench.results.record import TrialRecord
from bench.tracking import Tracker, WandbTracker, make_tracker, require_wandb_login, stable_id
from bench.tracking.content import history_rows, leaderboard_tables, trial_config, trial_summary
from bench.tracking.ledger import Ledger
from tests.tracking.run_folder import (
    STABLE,
    by_name,
    finished_records,
    isolate_wandb,
    read_runs,
    suite,
    write_run,
)

# --- what is logged, as plain values -------------------------------------------------------------


@pytest.fixture
def records():
    return finished_records(suite())


def test_ids_are_stable_per_run_and_trial_and_valid_for_wandb():
    first = stable_id("20250101-120000-abcd", "gan-ring8-eb30c7-s4")
    assert first == stable_id("20250101-120000-abcd", "gan-ring8-eb30c7-s4")
    assert re.fullmatch(r"[a-z0-9]{16}", first)
    assert first != stable_id("20250102-120000-abcd", "gan-ring8-eb30c7-s4")
    assert first != stable_id("20250101-120000-abcd", "gan-ring8-eb30c7-s5")


def test_config_names_the_trial_its_row_and_every_hyperparameter(records):
    config = trial_config(records[0].trial, "RUN")
    assert config["lr"] == 1e-4 and config["latent_dim"] == 16 and config["batch_size"] == 128
    expected = {
        "suite": "track",
        "run_id": "RUN",
        "row": "ring8 / gan / lr=0.0001",
        "model": "gan",
        "variant": "lr=0.0001",
        "family": "gan",
        "dataset": "ring8",
        "feature_space": "raw",
        "eval_samples": 10,
        "seed": 4,
    }
    assert {key: config[key] for key in expected} == expected


def test_history_rows_put_losses_under_train_and_evaluations_under_eval(records):
    rows = history_rows(records[0].trial, records[0].history, records[0].evaluations)
    assert list(rows) == [1, 2, 3, 4]
    assert rows[2] == {"train/loss_d": 0.5, "train/loss_g": 1.0, "eval/fid": 3.0}
    assert rows[4]["eval/fid"] == 1.5
    assert not any(k.startswith("eval/") and k[5:] in STABLE for k in rows[4])  # not a curve


def test_completed_summary_has_final_best_and_stability(records):
    summary = trial_summary(records[0])
    assert summary["status"] == "completed" and summary["final/fid"] == 1.5
    assert (summary["best/fid"], summary["best/fid_step"]) == (1.5, 4)
    assert {k: summary[f"stability/{k}"] for k in STABLE} == STABLE
    assert "final/diverged" not in summary


@pytest.mark.parametrize("status", ["diverged", "error", "failed", "stopped"])
def test_unfinished_budgets_keep_out_of_final_and_best(records, status):
    record = records[1]
    record.status = status
    summary = trial_summary(record)
    assert summary["status"] == status
    assert not any(k.startswith(("final/", "best/")) for k in summary)
    stability = {k for k in summary if k.startswith("stability/")}
    assert stability == (
        {"stability/diverged", "stability/diverged_step"} if status == "diverged" else set()
    )


def test_best_follows_the_metric_direction(records):
    record = records[0]
    record.evaluations[0]["metrics"]["fid"] = 0.5  # lower is better: the earlier one wins
    summary = trial_summary(record)
    assert (summary["best/fid"], summary["best/fid_step"]) == (0.5, 2)


def test_leaderboard_tables(tmp_path):
    store, _ = write_run(tmp_path)
    tables = leaderboard_tables(aggregate(store.path), [{"model": "gan", "flags": ["a", "b"]}])
    columns, rows = tables["leaderboard"]
    assert columns == ["dataset", "rank", "model", "variant", "seeds ok", "fid mean", "fid std"]
    assert rows == [
        ["ring8", 1, "gan", "lr=0.0001", "1/1", 1.5, None],
        ["ring8", None, "gan", "lr=0.0002", "0/1", None, None],
    ]
    columns, rows = tables["stability"]
    assert columns[5:7] == ["diverged mean", "diverged std"]
    assert [row[5] for row in rows] == [0.0, 1.0]
    assert tables["reproduction"] == (["model", "flags"], [["gan", "a; b"]])


# --- the live tracker, read back from wandb's offline files --------------------------------------


def replay(tracker: Tracker, done: TrialRecord, files: dict[str, bytes]) -> TrialRecord:
    """Feed a finished record to the tracker as the callback would: start, two reports, end
    (whose files the store has written into the trial's folder already)."""
    live = TrialRecord(done.trial)
    tracker.started(live)
    live.history, live.evaluations, live.step = done.history[:2], done.evaluations[:1], 2
    tracker.reported(live, {})
    live.history, live.evaluations = done.history, done.evaluations
    live.status, live.step, live.error = done.status, done.step, done.error
    tracker.finished(live, files)
    return live


@pytest.fixture(scope="module")
def live_run(tmp_path_factory):
    """A run folder logged live: both trials through the tracker, then the leaderboard."""
    root = tmp_path_factory.mktemp("live")
    with pytest.MonkeyPatch.context() as patch:
        isolate_wandb(patch, root / "home")
        store, records = write_run(root)
        tracker = make_tracker("offline", suite(), store.path)
        for record in records:
            replay(tracker, record, {"samples.png": b""})
        tracker.leaderboard(aggregate(store.path))
        warnings = tracker.close()
        runs = by_name(store.path)
    return store, records, runs, warnings


def test_one_run_per_trial_and_one_leaderboard_run_with_stable_ids(live_run):
    store, records, runs, warnings = live_run
    assert warnings == []
    expected = {r.trial.trial_id: stable_id(store.run_id, r.trial.trial_id) for r in records}
    expected["track"] = stable_id(store.run_id, "leaderboard")
    assert {name: run.id for name, run in runs.items()} == expected
    assert all(run.group == store.run_id and run.project == "bench-test" for run in runs.values())
    assert [runs[r.trial.trial_id].job_type for r in records] == ["trial", "trial"]
    assert all(run.resume for run in runs.values())  # resume="allow": a later copy continues it
    assert len(read_runs(store.path)) == 3


def test_history_is_logged_against_the_training_step(live_run):
    _, records, runs, _ = live_run
    run = runs[records[0].trial.trial_id]
    assert [row["_step"] for row in run.history] == [1, 2, 3, 4]
    assert [row.get("eval/fid") for row in run.history] == [None, 3, None, 1.5]
    assert [row["train/loss_d"] for row in run.history] == [1, 0.5, pytest.approx(1 / 3), 0.25]
    assert run.history[-1]["samples"]["_type"] == "image-file"
    assert run.metrics == {"eval/fid": {"summary": ["min"]}}
    assert run.config["row"] == "ring8 / gan / lr=0.0001" and run.config["family"] == "gan"


def test_completed_trial_summary(live_run):
    _, records, runs, _ = live_run
    run = runs[records[0].trial.trial_id]
    assert run.tags == [] and run.exit_code == 0
    assert run.summary["status"] == "completed" and run.summary["final/fid"] == 1.5
    assert (run.summary["best/fid"], run.summary["best/fid_step"]) == (1.5, 4)
    assert run.summary["stability/loss_d_cv"] == 0.25 and run.summary["eval/fid"] == {"min": 1.5}


def test_diverged_trial_is_tagged_and_keeps_out_of_final(live_run):
    _, records, runs, _ = live_run
    run = runs[records[1].trial.trial_id]
    assert run.tags == ["diverged"] and run.exit_code == 1
    assert run.summary["status"] == "diverged" and run.summary["stability/diverged"] == 1
    assert not any(k.startswith(("final/", "best/")) for k in run.summary)
    assert math.isnan(run.history[-1]["train/loss_d"])


def test_leaderboard_run_holds_tables_and_files(live_run):
    store, _, runs, _ = live_run
    board = runs["track"]
    assert board.job_type == "leaderboard" and board.group == store.run_id
    assert board.config == {"suite": "track", "run_id": store.run_id, "rows": 2}
    assert set(board.tables) == {"leaderboard", "stability"}
    assert board.tables["leaderboard"]["data"][0][:6] == [
        "ring8",
        1,
        "gan",
        "lr=0.0001",
        "1/1",
        1.5,
    ]
    (artifact,) = board.user_artifacts
    assert artifact["type"] == "leaderboard" and artifact["name"] == "leaderboard-track"
    assert sorted(artifact["files"]) == ["leaderboard.csv", "leaderboard.md"]
    assert store.run_id in artifact["aliases"]


def test_the_ledger_knows_every_run(live_run):
    store, records, runs, _ = live_run
    ledger = Ledger(store.path)
    names = {entry["name"] for entry in ledger.runs.values()}
    assert names == {r.trial.trial_id for r in records} | {"leaderboard"}
    assert ledger.runs[runs[records[1].trial.trial_id].id]["logged"] == "diverged@3:2"


def test_a_report_replaying_restored_steps_hands_on_only_new_ones(records, tmp_path):
    tracker = WandbTracker.__new__(WandbTracker)  # `arrived` alone: no worker, no wandb
    tracker.sent = {}
    record = TrialRecord(records[0].trial)
    record.history, record.evaluations = records[0].history[:2], records[0].evaluations[:1]
    assert [len(part) for part in tracker.arrived(record)] == [2, 1]
    record.history = records[0].history[:3]  # restored from a checkpoint at 2: 1, 2 replayed
    rows, evaluations = tracker.arrived(record)
    assert [r["step"] for r in rows] == [3] and evaluations == []
    assert tracker.arrived(record) == ([], [])


def test_a_tracking_failure_is_a_warning_not_a_lost_result(records, tmp_path, monkeypatch):
    isolate_wandb(monkeypatch, tmp_path / "home")
    store, _ = write_run(tmp_path)
    tracker = make_tracker("offline", suite(), store.path)
    tracker.dest = replace(tracker.dest, mode="no-such-mode")
    replay(tracker, records[0], {})
    (warning,) = tracker.close()
    trial_id = records[0].trial.trial_id
    assert warning.startswith(f"wandb could not log {trial_id}: ")
    assert f"bench sync {store.path}" in warning


def test_disabled_tracking_logs_nothing(records, tmp_path):
    tracker = make_tracker("disabled", suite(), tmp_path)
    replay(tracker, records[0], {})
    assert tracker.close() == [] and not (tmp_path / "wandb").exists()


def test_online_mode_without_a_login_is_refused_up_front(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc
    with pytest.raises(BenchError, match="needs a wandb login") as info:
        require_wandb_login()
    assert "wandb login" in info.value.fix and "--wandb offline" in info.value.fix
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    require_wandb_login()
