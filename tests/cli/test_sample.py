"""`bench sample`: samples from a trial's kept model that `bench evaluate --fake` measures to the
very FID the trial's own final evaluation reported (same sample count, same seed, same reference
set: the suite's eval_samples training points)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from bench.cli import EXIT_USAGE, app
from tests.results.runs import KEPT_SUITE, run_in_process

runner = CliRunner()


def bench(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return run_in_process(tmp_path_factory.mktemp("sample"), KEPT_SUITE.format(extra=""))


@pytest.mark.parametrize("model", ["gan", "ae"])
def test_sampled_then_evaluated_gives_the_trials_own_fid(run, tmp_path, model) -> None:
    (folder,) = run.glob(f"trials/{model}-*")
    metrics = json.loads((folder / "metrics.json").read_text())
    samples, scores = tmp_path / "samples.npz", tmp_path / "scores.json"
    result = bench("sample", folder, "-n", 200, "-o", samples)
    assert result.exit_code == 0, result.output
    command = (
        "bench evaluate --real ring8 --fake " + f"{samples} --reference 200 --metrics fid,modes"
    )
    assert command in result.output  # the line to measure them as the trial did
    stored = np.load(samples)
    assert stored["samples"].shape == (200, 2) and int(stored["seed"]) == 3
    assert int(stored["step"]) == 20 and str(stored["which"]) == "final"

    result = bench(*command.split()[1:], "-o", scores)
    assert result.exit_code == 0, result.output
    measured = json.loads(scores.read_text())["metrics"]
    assert measured["fid"] == metrics["final"]["fid"]  # exactly: the same floats all the way
    assert measured["modes"] == metrics["final"]["modes"]


def test_the_best_model_reproduces_its_best_evaluation(run, tmp_path) -> None:
    (folder,) = run.glob("trials/gan-*")
    kept = json.loads((folder / "metrics.json").read_text())["kept"]["best"]
    samples, scores = tmp_path / "best.npz", tmp_path / "scores.json"
    assert bench("sample", folder, "-n", 200, "--which", "best", "-o", samples).exit_code == 0
    result = bench(
        "evaluate",
        "--real",
        "ring8",
        "--fake",
        samples,
        "--reference",
        200,
        "--metrics",
        "fid",
        "-o",
        scores,
    )
    assert result.exit_code == 0, result.output
    assert json.loads(scores.read_text())["metrics"]["fid"] == kept["value"]


def test_another_seed_draws_other_samples(run, tmp_path) -> None:
    (folder,) = run.glob("trials/gan-*")
    for seed in (3, 4):
        assert bench("sample", folder, "-n", 50, "--seed", seed, "-o", tmp_path / f"{seed}.npz")
    a, b = (np.load(tmp_path / f"{seed}.npz")["samples"] for seed in (3, 4))
    assert not np.array_equal(a, b)


def test_a_trial_without_a_kept_model_is_one_clear_error(tmp_path) -> None:
    run = run_in_process(tmp_path, KEPT_SUITE.format(extra="keep: none"))
    (folder,) = run.glob("trials/gan-*")
    result = bench("sample", folder, "-n", 10, "-o", tmp_path / "s.npz")
    assert result.exit_code == EXIT_USAGE
    said = " ".join(result.output.split())  # as one paragraph, however the console wrapped it
    assert "kept no final model" in said and "keep: both" in said
    assert "Traceback" not in said and not (tmp_path / "s.npz").exists()

    result = bench("sample", run, "-n", 10, "-o", tmp_path / "s.npz")  # a run, not a trial
    assert result.exit_code == EXIT_USAGE and "not a trial folder" in " ".join(
        result.output.split()
    )
