"""Hyperparameter sensitivity: range of mean final scores across one grid axis."""

from __future__ import annotations

import pytest

from bench.report.markdown import sensitivity_markdown
from bench.results.sensitivity import sensitivities
from bench.suite import expand, parse_suite

SUITE = """\
name: sens
seeds: [0, 1]
budget: {steps: 10, eval_every: 10, eval_samples: 100}
datasets: [ring8]
models:
  - {name: gan, hparams: {lr: [1.0e-4, 1.0e-3], hidden: [16, 32]}}
  - {name: vae}
tracking: {wandb: disabled}
"""


def finished(trial, value, status="completed"):
    return {"status": status, "final": {"modes": value}}


def test_range_of_means_per_value_of_each_axis() -> None:
    trials = expand(parse_suite(SUITE))
    # modes = 8 when lr is small, 4 when large; hidden does not matter
    scored = [(t, finished(t, 8.0 if t.grid.get("lr") == 1e-4 else 4.0)) for t in trials]
    found = {s.hparam: s for s in sensitivities(scored, {"ring8": "modes"})}
    assert set(found) == {"lr", "hidden"}  # the vae varies nothing
    assert found["lr"].spread == pytest.approx(4.0)
    assert found["lr"].counts == {"0.0001": 4, "0.001": 4}
    assert found["hidden"].spread == pytest.approx(0.0)
    lines = sensitivity_markdown(list(found.values()), {"modes": "max"})
    assert any("**0.0001: 8** (n=4)" in line for line in lines)


def test_failed_trials_and_single_values_are_left_out() -> None:
    trials = [t for t in expand(parse_suite(SUITE)) if t.model == "gan"]
    scored = [
        (t, finished(t, 8.0, "completed" if t.grid["lr"] == 1e-4 else "diverged")) for t in trials
    ]
    found = {s.hparam for s in sensitivities(scored, {"ring8": "modes"})}
    assert found == {"hidden"}  # lr has completed trials at one value only
    assert sensitivities(scored, {}) == []
    assert sensitivity_markdown([], {}) == []
