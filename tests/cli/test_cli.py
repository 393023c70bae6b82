"""The command line as a user meets it: listings, validation, dry runs and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.cli import EXIT_USAGE, app
from tests.conftest import TINY_SUITE, write_suite

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def bench(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def assert_user_error(result, *phrases: str) -> None:
    text = result.output
    assert result.exit_code == EXIT_USAGE, text
    assert "Traceback" not in text
    for phrase in phrases:
        assert phrase in text, f"{phrase!r} not in:\n{text}"


def test_list_shows_every_registry_with_descriptions():
    result = bench("list")
    assert result.exit_code == 0
    for name in ("gan", "vae", "ring8", "grid25", "digits", "mnist5k", "fid", "modes"):
        assert name in result.output
    models = bench("list", "models").output
    assert "vae" in models and "ring8" not in models


def test_list_a_model_shows_its_hyperparameters_and_what_it_logs():
    result = bench("list", "models", "wgan_gp")
    assert result.exit_code == 0, result.output
    assert "gp_weight" in result.output  # a hyperparameter
    assert "wgan_gp logs at every step" in result.output
    for key in ("loss_d", "grad_norm_g", "wasserstein", "critic_grad_norm"):
        assert key in result.output


@pytest.mark.parametrize("suite", sorted((ROOT / "suites").rglob("*.yaml")), ids=lambda p: p.name)
def test_shipped_suites_validate(suite):
    result = bench("validate", suite)
    assert result.exit_code == 0, result.output
    assert "valid" in result.output


def test_validate_names_file_line_and_suggestion(tmp_path):
    path = write_suite(tmp_path, TINY_SUITE.replace("name: vae", "name: vea"))
    assert_user_error(
        bench("validate", path), f"{path}:8", "unknown model 'vea'", "Did you mean 'vae'"
    )


def test_missing_suite_file_is_a_clear_error(tmp_path):
    assert_user_error(bench("run", tmp_path / "nope.yaml"), "nope.yaml")


def test_dry_run_prints_one_row_per_trial_and_writes_nothing(tmp_path):
    result = bench("run", ROOT / "suites" / "quickstart.yaml", "--dry-run", "--results", tmp_path)
    assert result.exit_code == 0, result.output
    assert "12 trials" in result.output
    assert result.output.count("quickstart") >= 1
    assert list(tmp_path.iterdir()) == []


def test_a_huge_grid_needs_yes(tmp_path):
    seeds = ", ".join(str(i) for i in range(200))
    path = write_suite(tmp_path, TINY_SUITE.replace("seeds: [0, 1]", f"seeds: [{seeds}]"))
    assert_user_error(bench("run", path, "--results", tmp_path / "r"), "1200 trials", "--yes")
    assert not (tmp_path / "r").exists()


def test_unwritable_results_folder_fails_before_anything_runs(tmp_path):
    path = write_suite(tmp_path, TINY_SUITE)
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert_user_error(bench("run", path, "--results", blocker / "results"), "cannot write results")


def test_an_address_that_does_not_answer_is_a_clear_error(tmp_path):
    path = write_suite(tmp_path, TINY_SUITE)
    result = bench("run", path, "--results", tmp_path / "r", "--address", "127.0.0.1:9")
    assert_user_error(result, "no Ray cluster answers at 127.0.0.1:9", "ray start --head")
    assert not (tmp_path / "r" / "tiny").exists() or not any((tmp_path / "r" / "tiny").iterdir())


def test_a_malformed_address_is_a_clear_error(tmp_path):
    path = write_suite(tmp_path, TINY_SUITE)
    result = bench("run", path, "--results", tmp_path / "r", "--address", "not an address")
    assert_user_error(result, "is not a Ray address")


def test_leaderboard_of_an_empty_folder_is_a_clear_error(tmp_path):
    assert_user_error(bench("leaderboard", tmp_path), "no bench run found")


def test_auto_address_without_a_running_cluster_is_a_clear_error(tmp_path, monkeypatch):
    """What Ray raises when `auto` finds no instance; patched in so that a Ray instance running
    elsewhere on the machine cannot turn this into a real run."""
    import ray

    def no_cluster(address=None, **kwargs):
        raise ConnectionError(
            "Could not find any running Ray instance. Please specify the one to connect to by "
            "setting `--address` flag or `RAY_ADDRESS` environment variable."
        )

    monkeypatch.setattr(ray, "init", no_cluster)
    path = write_suite(tmp_path, TINY_SUITE)
    result = bench("run", path, "--results", tmp_path / "r", "--address", "auto")
    assert_user_error(result, "could not connect to the Ray cluster at 'auto'", "ray start --head")


def make_run(tmp_path, text: str):
    """A run folder as a driver leaves it before any trial reports."""
    from bench.results.store import RunStore
    from bench.suite import expand, parse_suite

    suite = parse_suite(text)
    trials = expand(suite)
    store = RunStore.create(tmp_path / "results", suite, len(trials))
    for trial in trials:
        store.write_config(trial)
    return store.path


def test_resume_of_a_folder_that_is_no_run_is_a_clear_error(tmp_path):
    path = write_suite(tmp_path, TINY_SUITE)
    assert_user_error(bench("run", path, "--resume", tmp_path), "no bench run found")
    assert_user_error(bench("run"), "no suite file given", "--resume")


def test_resume_with_another_suite_is_refused_before_anything_runs(tmp_path):
    run = make_run(tmp_path, TINY_SUITE)
    other = write_suite(tmp_path, TINY_SUITE.replace("seeds: [0, 1]", "seeds: [0, 2]"))
    assert_user_error(
        bench("run", other, "--resume", run), "other trials than this suite", "suite.yaml"
    )
    changed = write_suite(tmp_path, TINY_SUITE.replace("steps: 40", "steps: 41"), "b.yaml")
    assert_user_error(bench("run", changed, "--resume", run), "differs in budget")
    meta = (run / "run.json").read_text()
    assert '"status": "running"' in meta and "resumed" not in meta  # untouched
