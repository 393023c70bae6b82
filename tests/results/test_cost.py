"""Where a trial's time went (metrics.json `timing`), what the leaderboard makes of it (a cost
table, CSV columns, terminal columns), the best score of the ranking metric with its step, and the
progress view's note on a metric that dominates a trial's time."""

from __future__ import annotations

import csv
import io
import json

import pytest
from rich.console import Console

from bench.report.markdown import leaderboard_markdown
from bench.report.terminal import print_leaderboard
from bench.results.aggregate import aggregate
from bench.results.record import TrialRecord
from bench.results.store import RunStore
from bench.run.progress import ProgressView
from bench.suite import expand, parse_suite
from bench.trial.evaluate import Evaluator
from bench.trial.report import TrialReport
from tests.results.runs import KEPT_SUITE, run_in_process

PARTS = ("setup_s", "train_s", "evaluate_s", "pictures_s", "checkpoint_s", "keep_s")


@pytest.fixture(scope="module")
def timed_run(tmp_path_factory):
    """A run whose evaluator says what each metric took (as the evaluator will once it times
    them): 0.25 s of fid and 0.125 s of modes per evaluation."""
    patch = pytest.MonkeyPatch()
    real_call = Evaluator.__call__

    def timed_call(self, model, step, seed):
        evaluation = real_call(self, model, step, seed)
        evaluation.seconds = {"fid": 0.25, "modes": 0.125}
        return evaluation

    patch.setattr(Evaluator, "__call__", timed_call)
    try:
        yield run_in_process(tmp_path_factory.mktemp("timed"), KEPT_SUITE.format(extra=""))
    finally:
        patch.undo()


def test_every_trial_records_where_its_time_went(timed_run) -> None:
    for metrics_file in timed_run.glob("trials/*/metrics.json"):
        metrics = json.loads(metrics_file.read_text())
        timing = metrics["timing"]
        assert set(timing) == {*PARTS, "metrics_s", "steps_per_s", "wall_s"}
        assert all(timing[part] >= 0 for part in PARTS)
        assert sum(timing[part] for part in PARTS) <= timing["wall_s"] + 1e-3  # rounded to 0.1 ms
        assert timing["wall_s"] == pytest.approx(metrics["wall_s"], abs=1e-3)
        assert timing["steps_per_s"] == pytest.approx(20 / timing["train_s"], rel=1e-2)
        assert timing["metrics_s"] == {"fid": 0.5, "modes": 0.25}  # two evaluations, summed
        assert timing["pictures_s"] > 0 and timing["keep_s"] > 0


def test_the_leaderboard_shows_cost_per_row_in_every_format(timed_run) -> None:
    board = aggregate(timed_run)
    rows = list(csv.DictReader(io.StringIO(board.to_csv())))
    for row, line in zip(board.rows, rows, strict=True):
        seconds = [json.loads(p.read_text())["timing"] for p in seed_files(timed_run, row)]
        assert float(line["s_per_trial"]) == pytest.approx(seconds[0]["wall_s"], rel=1e-5)
        assert float(line["steps_per_s"]) == pytest.approx(seconds[0]["steps_per_s"], rel=1e-5)
        share = seconds[0]["evaluate_s"] / seconds[0]["wall_s"]
        assert float(line["evaluate_share"]) == pytest.approx(share, rel=1e-5)
        assert (line["top_metric"], float(line["top_metric_s"])) == ("fid", 0.5)
    assert "s_per_trial" not in board.to_csv(cost=False)

    markdown = leaderboard_markdown(board)
    cost = markdown.index("## Cost: ring8")
    assert markdown.index("## ring8") < cost < markdown.index("## Training stability")
    assert "| model | variant | s per trial | steps/s | evaluating | most expensive metric |" in (
        markdown
    )
    assert "| fid (0.5 s) |" in markdown

    console = Console(file=io.StringIO(), width=200)
    print_leaderboard(board, console)
    shown = console.file.getvalue()
    assert "s/trial" in shown and "steps/s" in shown and "best fid ↓ (step)" in shown


def seed_files(run, row):
    for path in run.glob("trials/*/metrics.json"):
        config = json.loads((path.parent / "config.json").read_text())
        if config["model_label"] == row.model:
            yield path


SUITE = """\
name: older
seeds: [0, 1]
budget: {steps: 30, eval_every: 10, eval_samples: 100}
datasets: [ring8]
models: [{name: gan}]
metrics: [fid]
tracking: {wandb: disabled}
"""


def written_run(tmp_path, fids: list[list[float]], timing: bool):
    """A run folder whose seeds evaluated the given FIDs at steps 10, 20, 30."""
    suite = parse_suite(SUITE)
    trials = expand(suite)
    store = RunStore.create(tmp_path, suite, len(trials))
    for trial, values in zip(trials, fids, strict=True):
        store.write_config(trial)
        record = TrialRecord(trial)
        for step, fid in zip((10, 20, 30), values, strict=True):
            record.absorb(
                TrialReport.from_result(
                    {
                        "step": step,
                        "status": "completed" if step == 30 else "running",
                        "history": [],
                        "metrics": {"fid": fid},
                        "not_computable": {},
                        "error": None,
                        "traceback": None,
                        "wall_s": 4.0,
                        "timing": {"wall_s": 4.0, "evaluate_s": 1.0, "steps_per_s": 50.0}
                        if timing
                        else None,
                    }
                )
            )
        store.write_trial(record)
    store.finish("complete", {"completed": len(trials)})
    return store.path


def test_best_at_step_comes_from_each_seeds_evaluations(tmp_path) -> None:
    run = written_run(tmp_path, [[0.9, 0.3, 0.5], [0.8, 0.6, 0.6]], timing=True)
    board = aggregate(run)
    (row,) = board.rows
    assert row.best() == [(0.3, 20), (0.6, 20)]  # a tie keeps the earlier step
    (line,) = csv.DictReader(io.StringIO(board.to_csv()))
    assert line["ranked_by"] == "fid" and line["best_steps"] == "20;20"
    assert float(line["best_mean"]) == pytest.approx(0.45)
    assert float(line["fid_mean"]) == pytest.approx(0.55)  # the final scores stay the ranking
    assert "| 0.45 ± 0.21 (20, 20) |" in leaderboard_markdown(board)


def test_a_run_written_before_timing_still_gets_best_and_seconds(tmp_path) -> None:
    run = written_run(tmp_path, [[0.9, 0.3, 0.5], [0.8, 0.6, 0.6]], timing=False)
    for path in run.glob("trials/*/metrics.json"):  # as written before timing and kept existed
        metrics = json.loads(path.read_text())
        del metrics["timing"], metrics["kept"]
        path.write_text(json.dumps(metrics))
    (line,) = csv.DictReader(io.StringIO(aggregate(run).to_csv()))
    assert line["best_steps"] == "20;20" and float(line["s_per_trial"]) == 4.0
    assert line["steps_per_s"] == "" and line["top_metric"] == ""
    assert "| gan | - | 4 | — | — | — |" in leaderboard_markdown(aggregate(run))


def test_progress_notes_a_metric_that_takes_most_of_a_trial_once() -> None:
    records = {t.trial_id: TrialRecord(t) for t in expand(parse_suite(SUITE))}
    buffer = io.StringIO()
    view = ProgressView(Console(file=buffer, width=300), records, {"fid": "min"})
    for record, spent in zip(records.values(), (30.0, 35.0), strict=True):
        record.status, record.wall_s = "completed", 40.0
        record.timing = {"wall_s": 40.0, "metrics_s": {"fid": spent, "modes": 1.0}}
        view.finished(record)
    notes = [line for line in buffer.getvalue().splitlines() if line.startswith("note:")]
    assert len(notes) == 1
    assert "metric 'fid' took 30.0 s of the trial's 40.0 s" in notes[0]
    assert "eval_samples (100)" in notes[0]


def test_progress_says_nothing_of_a_metric_that_takes_less_than_half() -> None:
    (record, _) = (TrialRecord(t) for t in expand(parse_suite(SUITE)))
    buffer = io.StringIO()
    view = ProgressView(Console(file=buffer, width=300), {"a": record}, {"fid": "min"})
    record.status, record.timing = "completed", {"wall_s": 40.0, "metrics_s": {"fid": 19.0}}
    view.finished(record)
    assert "note:" not in buffer.getvalue()
