"""`bench evaluate` and `bench reproduce` from the command line, on files the tests write (no
Ray: reproduce compares a run folder assembled here with the results store's own writers)."""

from __future__ import annotations

import json

import numpy as np
from typer.testing import CliRunner

from bench.cli import EXIT_NOT_REPRODUCED, EXIT_USAGE, app
from bench.data import DATASETS
from bench.results.record import TrialRecord
from bench.results.store import RunStore
from bench.suite import expand, load_suite
from bench.trial.report import TrialReport
from tests.conftest import TINY_SUITE, write_suite

runner = CliRunner()

PUBLISHED_SUITE = """\
name: repro
seeds: [0, 1, 2]
budget: {{steps: 10, eval_every: 10, eval_samples: 100}}
datasets: [ring8]
models: [{{name: gan, hparams: {{hidden: 16}}}}]
metrics: [modes]
tracking: {{wandb: disabled}}
published:
  entries:
    - model: gan
      dataset: ring8
      metric: modes
      value: {value}
      spread: 0.1
      spread_kind: se
      runs: 10
      source: {{paper: "A constructed paper", table: "Table 1"}}
"""


def bench(*args):
    return runner.invoke(app, [str(a) for a in args])


def finished_run(tmp_path, suite, modes: list[float]):
    """A complete run folder whose seeds ended with the given `modes`."""
    trials = expand(suite)
    store = RunStore.create(tmp_path / "results", suite, len(trials))
    for trial, value in zip(trials, modes, strict=True):
        store.write_config(trial)
        record = TrialRecord(trial)
        record.absorb(
            TrialReport.from_result(
                {
                    "step": 10,
                    "status": "completed",
                    "history": [{"step": 10, "loss_d": 1.0}],
                    "metrics": {"modes": value},
                    "not_computable": {},
                    "error": None,
                    "traceback": None,
                    "wall_s": 1.0,
                }
            )
        )
        store.write_trial(record)
    store.finish("complete", {"completed": len(trials)})
    return store.path


def test_evaluate_measures_a_file_and_writes_json(tmp_path) -> None:
    fake = tmp_path / "fake.npz"
    np.savez(fake, samples=DATASETS.get("ring8")().load().heldout.numpy())
    out = tmp_path / "scores.json"
    result = bench(
        "evaluate", "--real", "ring8", "--fake", fake, "--metrics", "modes,fid", "-o", out
    )
    assert result.exit_code == 0, result.output
    scores = json.loads(out.read_text())
    assert scores["metrics"]["modes"] == 8 and scores["samples"] == 4000


def test_evaluate_bad_input_is_one_clear_line(tmp_path) -> None:
    fake = tmp_path / "fake.npy"
    np.save(fake, np.zeros((20, 2)))
    result = bench("evaluate", "--real", "ring8", "--fake", fake, "--metrics", "class_modes")
    assert result.exit_code == EXIT_USAGE and "Traceback" not in result.output
    assert "cannot measure these samples" in result.output
    missing = bench("evaluate", "--real", "ring8", "--fake", fake, "--inception-weights", "/nope")
    assert missing.exit_code == EXIT_USAGE and "does not exist" in missing.output


def test_reproduce_from_a_finished_run_matches(tmp_path) -> None:
    path = write_suite(tmp_path, PUBLISHED_SUITE.format(value=7.0))
    run = finished_run(tmp_path, load_suite(path), [7.0, 7.2, 6.8])
    result = bench("reproduce", path, "--from", run)
    assert result.exit_code == 0, result.output
    report = (run / "reproduction.md").read_text()
    assert "match" in report and "A constructed paper" in report
    assert json.loads((run / "reproduction.json").read_text())["all_matched"] is True


def test_reproduce_reports_a_mismatch_with_its_exit_code(tmp_path) -> None:
    path = write_suite(tmp_path, PUBLISHED_SUITE.format(value=6.3))
    run = finished_run(tmp_path, load_suite(path), [8.0, 8.0, 7.9])
    result = bench("reproduce", path, "--from", run)
    assert result.exit_code == EXIT_NOT_REPRODUCED, result.output
    assert "mismatch" in (run / "reproduction.md").read_text()


def test_reproduce_refuses_runs_of_other_suites_and_suites_without_numbers(tmp_path) -> None:
    path = write_suite(tmp_path, PUBLISHED_SUITE.format(value=7.0))
    tiny = write_suite(tmp_path, TINY_SUITE, "tiny.yaml")
    other = finished_run(tmp_path, load_suite(tiny), [1.0] * len(expand(load_suite(tiny))))
    result = bench("reproduce", path, "--from", other)
    assert result.exit_code == EXIT_USAGE and "not of 'repro'" in result.output
    plain = bench("reproduce", tiny, "--from", other)
    assert plain.exit_code == EXIT_USAGE and "no `published:` section" in plain.output


def test_a_published_entry_naming_an_unknown_model_fails_validation(tmp_path) -> None:
    text = PUBLISHED_SUITE.format(value=7.0).replace("    - model: gan", "    - model: gann")
    result = bench("validate", write_suite(tmp_path, text))
    assert result.exit_code == EXIT_USAGE and "Traceback" not in result.output
    assert "gann" in result.output and "suite.yaml:" in result.output
