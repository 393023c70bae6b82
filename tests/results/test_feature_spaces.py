"""A run measured in two feature spaces, made in this process: the leaderboard shows both spaces'
keys with the base metric's direction, wandb's summaries read them the same way, and `bench
compare` tells its rows from those of a run measured in one space."""

from __future__ import annotations

import csv
import io
import json

import pytest

from bench.metrics.base import SPACE_MARK
from bench.results.aggregate import aggregate
from bench.results.protocol import DIFFERS, check
from bench.results.record import TrialRecord
from bench.results.runs import load_run, row_key
from bench.tracking.content import metric_keys, trial_config, trial_summary
from tests.results.runs import run_in_process

SUITE = """\
name: spaces
seeds: [0]
budget: {{steps: 4, eval_every: 2, eval_samples: 100}}
datasets: [{dataset}]
models: [{{name: gan, hparams: {{hidden: 16, batch_size: 32}}}}]
metrics: [fid, prdc]
tracking: {{wandb: disabled}}
"""
TWO = "{name: digits, feature_spaces: [classifier, raw]}"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("spaces")
    two = run_in_process(root / "two", SUITE.format(dataset=TWO))
    one = run_in_process(root / "one", SUITE.format(dataset="digits"))
    return two, one


def test_the_leaderboard_shows_every_space_with_the_base_direction(runs) -> None:
    two, one = runs
    board = aggregate(two)
    assert list(board.directions) == [
        *aggregate(one).directions,
        *("fid@raw", "precision@raw", "recall@raw", "density@raw", "coverage@raw"),
    ]
    assert board.direction("fid@raw") == "min" and board.direction("recall@raw") == "max"
    (row,) = board.rows
    assert row.primary == "fid" and row.rank == 1  # ranked by the primary space
    header = next(csv.reader(io.StringIO((two / "leaderboard.csv").read_text())))
    assert "fid_mean" in header and "fid@raw_mean" in header and "fid@raw_std" in header
    assert "fid@raw" in (two / "leaderboard.md").read_text()


def test_a_run_without_the_key_has_no_suffixed_key_anywhere(runs) -> None:
    _, one = runs
    board = aggregate(one)
    assert not [k for k in board.keys if SPACE_MARK in k]
    (config,) = one.glob("trials/*/config.json")
    assert "feature_spaces" not in json.loads(config.read_text())
    (metrics,) = one.glob("trials/*/metrics.json")
    assert not [k for k in json.loads(metrics.read_text())["protocol"] if SPACE_MARK in k]


def test_wandb_summaries_read_suffixed_keys_by_their_direction(runs) -> None:
    two, _ = runs
    ((trial, metrics),) = load_run(two).trials
    evaluated, _ = metric_keys(trial)
    assert evaluated["fid@raw"] == "min" and evaluated["coverage@raw"] == "max"
    summary = trial_summary(TrialRecord.from_metrics(trial, metrics))
    values = [e["metrics"]["fid@raw"] for e in metrics["evaluations"]]
    assert summary["best/fid@raw"] == min(values)
    assert summary["final/fid@raw"] == metrics["final"]["fid@raw"]
    config = trial_config(trial, "run")
    assert config["feature_space"] == "classifier"
    assert config["feature_spaces"] == ["classifier", "raw"]


def test_compare_refuses_rows_measured_in_other_spaces(runs) -> None:
    two, one = map(load_run, runs)
    key = row_key(two.board.rows[0])
    found = check(two.protocols(key), one.protocols(key), ("A", "B"))
    assert found.state == DIFFERS and found.blocks
    assert "extractor@raw" in found.fields
