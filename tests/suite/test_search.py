"""Random search and the ASHA scheduler in suite files: seeded draws (the same file, the same
trials and ids), distributions checked with file:line, the scheduler's metric and mode resolved."""

from __future__ import annotations

import math

import pytest

from bench.errors import BenchError
from bench.run.tune import make_scheduler
from bench.suite import expand, parse_suite

SUITE = """\
name: search
seeds: [0]
budget: {steps: 20, eval_every: 10, eval_samples: 100}
datasets: [ring8]
models:
  - name: gan
    hparams:
      lr: {loguniform: [1.0e-5, 1.0e-2]}
      hidden: {choice: [16, 32, 64]}
      batch_size: [32, 64]
search: {algorithm: random, num_samples: 4, seed: 7}
metrics: [fid, modes]
tracking: {wandb: disabled}
"""


def test_random_search_is_seeded_and_crossed_with_listed_values():
    trials = expand(parse_suite(SUITE))
    assert len(trials) == 8  # 4 draws x 2 batch sizes
    again = expand(parse_suite(SUITE))
    assert [t.trial_id for t in trials] == [t.trial_id for t in again]
    assert [t.hparams for t in trials] == [t.hparams for t in again]
    other = expand(parse_suite(SUITE.replace("seed: 7", "seed: 8")))
    assert [t.hparams["lr"] for t in other] != [t.hparams["lr"] for t in trials]
    lrs = [t.hparams["lr"] for t in trials]
    assert all(1e-5 <= lr <= 1e-2 for lr in lrs) and len(set(lrs)) == 4
    assert {t.hparams["hidden"] for t in trials} <= {16, 32, 64}
    assert {t.hparams["batch_size"] for t in trials} == {32, 64}
    # the drawn values are part of the variant, so every draw is its own leaderboard row
    assert set(trials[0].grid) == {"lr", "hidden", "batch_size"}
    assert len({t.trial_id for t in trials}) == 8


@pytest.mark.parametrize(
    ("change", "line", "phrase"),
    [
        (("algorithm: random, num_samples: 4, ", ""), 8, "needs random search"),
        (("1.0e-5", "0.0"), 8, "must be > 0 for a log scale"),
        (("[16, 32, 64]", "[]"), 9, "non-empty list"),
        (("num_samples: 4", "num_samples: 0"), 11, "num_samples"),
        (("algorithm: random", "algorithm: bayes"), 11, "algorithm"),
    ],
)
def test_bad_search_settings_name_the_line(change, line, phrase):
    with pytest.raises(BenchError) as info:
        parse_suite(SUITE.replace(*change), source="s.yaml")
    assert f"s.yaml:{line}" in info.value.message() and phrase in info.value.message()


def test_a_small_space_drawn_twice_is_an_error_not_a_duplicate_trial():
    text = SUITE.replace("lr: {loguniform: [1.0e-5, 1.0e-2]}", "lr: 2.0e-4")
    with pytest.raises(BenchError, match="drew the same hyperparameters"):
        parse_suite(text.replace("num_samples: 4", "num_samples: 30"))


ASHA = SUITE + "scheduler: {asha: {metric: modes, grace_period: 10, reduction_factor: 2}}\n"


def test_asha_takes_its_mode_from_the_metric_direction():
    scheduler = make_scheduler(parse_suite(ASHA))
    assert scheduler.metric == "metrics/modes" and scheduler._metric_op == 1.0  # max
    fid = make_scheduler(parse_suite(ASHA.replace("metric: modes", "metric: fid")))
    assert fid.metric == "metrics/fid" and fid._metric_op == -1.0  # min
    assert make_scheduler(parse_suite(SUITE)) is None


@pytest.mark.parametrize(
    ("change", "phrase"),
    [
        (("metric: modes", "metric: fdi"), "Did you mean 'fid'"),
        (("grace_period: 10", "grace_period: 50"), "larger than budget.steps"),
        (("reduction_factor: 2", "reduction_factor: 1"), "reduction_factor"),
    ],
)
def test_bad_scheduler_settings_name_the_line(change, phrase):
    with pytest.raises(BenchError) as info:
        parse_suite(ASHA.replace(*change), source="s.yaml")
    assert "s.yaml:14" in info.value.message() and phrase in info.value.message()


def test_checkpoint_every_must_fit_the_budget():
    with pytest.raises(BenchError, match="checkpoint_every \\(30\\) is larger than steps"):
        parse_suite(SUITE.replace("eval_samples: 100", "eval_samples: 100, checkpoint_every: 30"))
    assert math.isclose(parse_suite(SUITE).budget.checkpoint_every, 10)
