"""Results store: atomic files, retries folded without duplicates, leaderboard aggregation."""

from __future__ import annotations

import json
import statistics

import pytest

from bench.errors import BenchError
from bench.io import write_json
from bench.report.markdown import leaderboard_markdown
from bench.results.aggregate import aggregate
from bench.results.folder import history_csv
from bench.results.layout import RUN_FILE, find_run
from bench.results.record import TrialRecord
from bench.results.store import ensure_writable
from bench.suite import expand, parse_suite
from bench.trial.report import Status, TrialReport

SUITE = """\
name: board
seeds: [0, 1, 2]
budget: {steps: 10, eval_every: 5, eval_samples: 100}
datasets: [ring8]
models:
  - {name: gan, hparams: {lr: [1.0e-4, 2.0e-4]}}
tracking: {wandb: disabled}
"""


def payload(step, status="running", rows=(), metrics=None) -> TrialReport:
    return TrialReport(
        step=step,
        status=Status(status),
        history=[{"step": s, "loss": float(s)} for s in rows],
        metrics=metrics or {},
        wall_s=1.0,
    )


def test_a_retried_trial_replaces_its_rows_instead_of_duplicating_them():
    (trial, *_) = expand(parse_suite(SUITE))
    record = TrialRecord(trial)
    record.absorb(payload(5, rows=range(1, 6), metrics={"fid": 3.0}))
    record.absorb(payload(10, rows=range(6, 11), metrics={"fid": 2.0}))
    # the worker died and Tune restarted the trial from scratch
    record.absorb(payload(5, rows=range(1, 6), metrics={"fid": 2.5}))
    assert [r["step"] for r in record.history] == [1, 2, 3, 4, 5]
    assert [e["step"] for e in record.evaluations] == [5]
    record.absorb(payload(10, "completed", rows=range(6, 11), metrics={"fid": 1.5}))
    assert [r["step"] for r in record.history] == list(range(1, 11))
    assert record.final["metrics"] == {"fid": 1.5} and record.status == "completed"


def test_history_csv_has_every_key_once():
    text = history_csv([{"step": 1, "a": 0.5}, {"step": 2, "a": 0.25, "b": 1.0}])
    assert text.splitlines() == ["step,a,b", "1,0.5,", "2,0.25,1.0"]


def fake_run(tmp_path, finals, status="complete"):
    """A run folder whose trials finished with the given final metrics (None: diverged)."""
    trials = expand(parse_suite(SUITE))
    run = tmp_path / "board" / "20260101-000000-abcd"
    write_json(
        run / RUN_FILE,
        {"suite": "board", "run_id": run.name, "status": status, "trials": len(trials)},
    )
    for trial, fid in zip(trials, finals, strict=False):  # trials beyond finals: pending
        folder = run / "trials" / trial.trial_id
        write_json(folder / "config.json", trial.to_dict())
        ok = fid is not None
        write_json(
            folder / "metrics.json",
            {
                "trial_id": trial.trial_id,
                "status": "completed" if ok else "diverged",
                "error": None if ok else "diverged at step 3: loss_d became nan",
                "final": {"fid": fid, "modes": 8.0} if ok else {},
            },
        )
    return run, trials


def test_leaderboard_groups_seeds_and_ranks_by_the_first_metric(tmp_path):
    # trials come lr-major: three seeds of lr=1e-4, then three of lr=2e-4
    run, trials = fake_run(tmp_path, [4.0, 6.0, 5.0, 1.0, 2.0, None])
    board = aggregate(run)
    assert board.incomplete is None
    best, worst = board.rows
    assert best.variant == "lr=0.0002" and best.rank == 1
    assert best.completed == 2 and best.seeds == 3 and best.statuses["diverged"] == 1
    assert best.mean("fid") == pytest.approx(1.5)
    assert best.std("fid") == pytest.approx(statistics.stdev([1.0, 2.0]))
    assert worst.mean("fid") == pytest.approx(5.0) and worst.rank == 2
    text = leaderboard_markdown(board)
    assert "5 ± 1" in text and "1.5 ± 0.71" in text and "fid ↓" in text and "modes ↑" in text
    assert "loss_d became nan" in text
    csv_lines = board.to_csv().splitlines()
    assert csv_lines[0].startswith("rank,dataset,model,variant,seeds,completed,statuses,fid_mean")
    assert csv_lines[1].split(",")[:6] == ["1", "ring8", "gan", "lr=0.0002", "3", "2"]


def test_an_unfinished_run_is_marked_incomplete(tmp_path):
    run, _ = fake_run(tmp_path, [4.0, 6.0], status="running")
    board = aggregate(run)
    assert "2 of 6 trials finished" in board.incomplete
    assert "incomplete" in leaderboard_markdown(board)


def test_find_run_picks_the_newest_run_of_a_suite(tmp_path):
    for run_id in ("20260101-000000-aaaa", "20260102-000000-bbbb"):
        write_json(tmp_path / "s" / run_id / RUN_FILE, {"run_id": run_id})
    assert find_run(tmp_path / "s").name == "20260102-000000-bbbb"
    assert find_run(tmp_path / "s" / "20260101-000000-aaaa").name == "20260101-000000-aaaa"
    with pytest.raises(BenchError, match="no bench run found"):
        find_run(tmp_path / "nothing-here")


def test_unwritable_results_folder_is_refused_up_front(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(BenchError, match="cannot write results") as info:
        ensure_writable(blocker / "results")
    assert "--results" in info.value.fix


def test_writes_are_atomic_and_leave_no_temporary_files(tmp_path):
    target = tmp_path / "x" / "metrics.json"
    write_json(target, {"a": 1})
    write_json(target, {"a": 2})
    assert json.loads(target.read_text()) == {"a": 2}
    assert [p.name for p in target.parent.iterdir()] == ["metrics.json"]


def test_written_files_get_the_usual_permissions(tmp_path) -> None:
    import os
    import stat

    from bench.io import write_text

    path = write_text(tmp_path / "a.txt", "x")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask


def test_a_run_written_before_stability_was_a_metric_reads_the_same(tmp_path):
    """Old metrics.json kept stability beside `final` and old configs did not list it: such a run
    aggregates as if written today (stability in its own table, diverged seeds counted there)."""
    run, trials = fake_run(tmp_path, [4.0, 6.0, 5.0, 1.0, 2.0, None])
    for trial, diverged in zip(trials, [0, 0, 0, 0, 0, 1], strict=True):
        folder = run / "trials" / trial.trial_id
        config = json.loads((folder / "config.json").read_text())
        config["metrics"] = [m for m in config["metrics"] if m != "stability"]
        write_json(folder / "config.json", config)
        metrics = json.loads((folder / "metrics.json").read_text())
        metrics["stability"] = {"diverged": float(diverged), "loss_d_cv": 0.5}
        write_json(folder / "metrics.json", metrics)
    board = aggregate(run)
    assert list(board.sections) == ["Training stability"]
    assert board.keys_for("ring8", "Training stability") == ["diverged", "loss_d_cv"]
    best = board.rows[0]
    assert best.values["diverged"] == [0.0, 0.0, 1.0]  # the diverged seed counts here only
    assert len(best.values["fid"]) == 2
    assert "## Training stability: ring8" in leaderboard_markdown(board)


def test_the_leaderboard_shows_the_protocol_its_rows_share(tmp_path):
    run, trials = fake_run(tmp_path, [4.0, 6.0, 5.0, 1.0, 2.0, None])
    protocol = {
        "feature_space": "raw",
        "extractor": "none",
        "n_generated": 200,
        "n_reference": 200,
        "reference_split": "train, subset drawn with seed 1234",
        "n_heldout": 100,
        "prdc.k": 5,
        "versions": {"bench": "0.1.0"},
    }
    for i, trial in enumerate(trials[:5]):
        path = run / "trials" / trial.trial_id / "metrics.json"
        metrics = json.loads(path.read_text())
        metrics["protocol"] = {**protocol, "n_generated": 200 + (i == 4)}  # one seed differs
        write_json(path, metrics)
    board = aggregate(run)
    assert board.protocol("ring8")["feature_space"] == "raw"
    assert board.protocol("ring8")["n_generated"] == "varies"
    text = leaderboard_markdown(board)
    assert "Protocol: `raw` feature space" in text and "prdc.k=5" in text and "bench 0.1.0" in text
    header, first = board.to_csv().splitlines()[:2]
    assert "protocol" in header.split(",") and '"feature_space"": ""raw""' in first
