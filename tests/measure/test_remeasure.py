"""`bench evaluate --run`: a finished run's trials measured again from their kept models, into a
new folder beside the run's files (never over them); bad input is refused before anything is
measured or written."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from bench.cli import EXIT_USAGE, app
from bench.results.aggregate import aggregate
from tests.results.runs import KEPT_SUITE, run_in_process

runner = CliRunner()


def bench(*args):
    return runner.invoke(app, [str(a) for a in args])


def said(result) -> str:
    return " ".join(result.output.split())  # one paragraph, however the console wrapped it


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    return run_in_process(tmp_path_factory.mktemp("again"), KEPT_SUITE.format(extra=""))


@pytest.fixture
def run(finished, tmp_path):
    """A fresh copy of the finished run for each test, so each sees its own evaluations/."""
    return shutil.copytree(finished, tmp_path / finished.name)


def snapshot(run) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(run)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in run.rglob("*")
        if p.is_file() and "evaluations" not in p.parts
    }


def test_a_run_measured_again_lands_beside_it_and_never_over_it(run) -> None:
    before = snapshot(run)
    first = bench("evaluate", "--run", run)
    assert first.exit_code == 0, first.output
    second = bench("evaluate", "--run", run, "--metrics", "fid,kid", "--which", "best")
    assert second.exit_code == 0, second.output
    assert snapshot(run) == before  # not one byte of the run changed
    folders = sorted((run / "evaluations").iterdir())
    assert len(folders) == 2 and all(not f.name.startswith(".") for f in folders)
    for folder in folders:
        assert str(folder) in said(first) + said(second)
        assert {"run.json", "leaderboard.md", "leaderboard.csv", "trials"} <= {
            p.name for p in folder.iterdir()
        }

    again = aggregate(folders[0])  # each trial's own metrics, from its final model: the same
    for trial in (run / "trials").iterdir():
        original = json.loads((trial / "metrics.json").read_text())
        measured = json.loads((folders[0] / "trials" / trial.name / "metrics.json").read_text())
        assert measured["final"] == original["final"]
        assert measured["measured_from"] == {"which": "final", "file": "model_final.pt", "step": 20}
        assert measured["protocol"] == original["protocol"]  # measured the same way, on record
    assert [r.values for r in again.rows] == [r.values for r in aggregate(run).rows]
    compared = bench("compare", run, folders[0])  # so bench compare can check it against the run
    assert compared.exit_code == 0 and "NOT COMPARABLE" not in compared.output, compared.output

    for trial in (run / "trials").iterdir():  # a metric added since, on the best models
        original = json.loads((trial / "metrics.json").read_text())
        measured = json.loads((folders[1] / "trials" / trial.name / "metrics.json").read_text())
        assert measured["final"]["fid"] == original["kept"]["best"]["value"]
        assert {"kid", "kid_std"} <= set(measured["final"])
        assert measured["step"] == original["kept"]["best"]["step"]
    assert "kid" in (folders[1] / "leaderboard.csv").read_text()
    assert bench("leaderboard", folders[1]).exit_code == 0  # a run folder like any other


def refused(run, *args, expect: str) -> None:
    before = snapshot(run)
    result = bench("evaluate", *args)
    assert result.exit_code == EXIT_USAGE, result.output
    assert expect in said(result), said(result)
    assert "Traceback" not in result.output
    assert not (run / "evaluations").exists() and snapshot(run) == before


def test_a_metric_that_applies_to_no_trial_is_refused_before_anything_is_measured(run) -> None:
    refused(run, "--run", run, "--metrics", "fid,is", expect="metric 'is' does not apply to trial")
    refused(run, "--run", run, "--metrics", "fid,is", expect="nor to the run's 1 other trials")
    refused(run, "--run", run, "--metrics", "fdi", expect="unknown metric 'fdi'")


def test_a_metric_is_measured_on_the_trials_it_applies_to_and_said_where_not(run) -> None:
    """The AE's reconstruction error is measured again; the GAN has no encoder, so it is left
    out of the new folder and the command says so, as a suite leaves a metric out for a model it
    does not apply to."""
    before = snapshot(run)
    result = bench("evaluate", "--run", run, "--metrics", "reconstruction")
    assert result.exit_code == 0, result.output
    assert "not measured: metric 'reconstruction' does not apply to trial gan-" in said(result)
    assert snapshot(run) == before
    (folder,) = (run / "evaluations").iterdir()
    assert [p.name[:3] for p in (folder / "trials").iterdir()] == ["ae-"]  # the GAN: not measured
    (ae,) = (folder / "trials").iterdir()
    assert "recon_mse" in json.loads((ae / "metrics.json").read_text())["final"]
    assert json.loads((folder / "run.json").read_text())["trials"] == 1
    assert [row.model for row in aggregate(folder).rows] == ["ae"]


def test_a_trial_without_the_kept_model_is_refused(run) -> None:
    (trial,) = run.glob("trials/gan-*")
    (trial / "model_best.pt").unlink()
    refused(run, "--run", run, "--which", "best", expect=f"trial {trial.name} kept no best model")
    refused(run, "--run", run, "--which", "worst", expect="--which 'worst' names no kept model")


def test_a_folder_that_is_not_a_run_is_refused(tmp_path, run) -> None:
    refused(run, "--run", tmp_path / "nowhere", expect="no bench run found")
    refused(run, "--run", run / "trials", expect="no bench run found")


def test_the_two_modes_do_not_mix(run) -> None:
    refused(run, "--run", run, "--real", "ring8", expect="give one or the other")
    refused(run, "--real", "ring8", expect="needs --real and --fake")
    refused(run, "--run", run, "-o", run / "x.json", expect="--output applies to --real/--fake")
    refused(run, "--real", "ring8", "--fake", run / "x.npz", "--which", "best", expect="--which")


def test_a_trial_whose_history_is_gone_cannot_have_its_own_metrics_again(run) -> None:
    (trial,) = run.glob("trials/gan-*")
    (trial / "history.csv").unlink()
    refused(run, "--run", run, expect="history.csv is missing")
