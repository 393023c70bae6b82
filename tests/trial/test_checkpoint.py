"""Checkpoints: a trial continued from one in a fresh model matches the uninterrupted trial bit for
bit (CPU), and a corrupted latest checkpoint falls back to the previous one, saying so."""

from __future__ import annotations

import pytest

from bench.results.record import TrialRecord
from bench.suite import expand, parse_suite
from bench.trial import checkpoint
from bench.trial.evaluate import prepare_dataset
from bench.trial.report import TrialReport
from bench.trial.train import COMPLETED, RUNNING, run_trial

SUITE = """\
name: ckpt
seeds: [5]
budget: {{steps: 24, eval_every: 8, checkpoint_every: 4, eval_samples: 200}}
datasets: [ring8]
models: [{{name: {model}, hparams: {{hidden: 16, batch_size: 32}}}}]
tracking: {{wandb: disabled}}
"""


@pytest.fixture(scope="module")
def ring8():
    return prepare_dataset("ring8", {}, "ring8", n_reference=200)


def trial_of(model: str):
    (trial,) = expand(parse_suite(SUITE.format(model=model)))
    return trial


def collect(trial, assets, resume=None) -> list[TrialReport]:
    payloads: list[TrialReport] = []
    run_trial(trial, assets, payloads.append, resume=resume)
    return payloads


def record_of(trial, payloads) -> TrialRecord:
    record = TrialRecord(trial)
    for p in payloads:
        record.absorb(p)
    return record


@pytest.mark.parametrize("model", ["gan", "vae"])
def test_a_trial_continued_from_a_checkpoint_matches_the_uninterrupted_one(ring8, model, tmp_path):
    trial = trial_of(model)
    whole = collect(trial, ring8)
    assert [p.step for p in whole] == [4, 8, 12, 16, 20, 24]
    assert [p.checkpoint is not None for p in whole] == [True] * 5 + [False]
    assert [p.status for p in whole] == [RUNNING] * 5 + [COMPLETED]

    # "kill" the trial after step 12: only its checkpoint survives, written to disk and read back
    saved = checkpoint.save(whole[2].checkpoint, tmp_path / "checkpoint_000002")
    state = checkpoint.load(saved)
    assert state["step"] == 12
    resumed = collect(trial, ring8, resume=state)
    assert [p.step for p in resumed] == [16, 20, 24]
    assert resumed[0].restored["step"] == 12 and resumed[1].restored is None

    assert resumed[-1].metrics == whole[-1].metrics
    # the same samples, drawn the same; the same kept models, the best one found before the restore
    assert resumed[-1].files == whole[-1].files
    assert resumed[-1].kept == whole[-1].kept
    assert resumed[-1].checkpoint is None and whole[-1].history == resumed[-1].history

    # what the driver folds together is the same history and evaluations, without duplicates
    uninterrupted = record_of(trial, whole)
    # the driver saw the first attempt up to step 16 before it died; the retry replays from 12
    interrupted = record_of(trial, whole[:4] + resumed)
    assert interrupted.history == uninterrupted.history
    assert [r["step"] for r in interrupted.history] == list(range(1, 25))
    assert interrupted.evaluations == uninterrupted.evaluations
    assert interrupted.restored_from == [12] and interrupted.status == COMPLETED


def test_a_checkpoint_of_another_trial_is_refused(ring8):
    gan, vae = trial_of("gan"), trial_of("vae")
    state = collect(gan, ring8)[0].checkpoint
    (final,) = collect(vae, ring8, resume=state)
    assert final.status == "error" and "belongs to trial" in final.error


def test_a_corrupted_latest_checkpoint_falls_back_to_the_previous(ring8, tmp_path):
    payloads = collect(trial_of("gan"), ring8)
    older = checkpoint.save(payloads[0].checkpoint, tmp_path / "checkpoint_000000")
    newer = checkpoint.save(payloads[1].checkpoint, tmp_path / "checkpoint_000001")
    assert checkpoint.load_newest([older, newer]).state["step"] == 8

    state_file = newer / checkpoint.STATE_FILE
    state_file.write_bytes(state_file.read_bytes()[:100])  # truncated, as by a full disk
    restored = checkpoint.load_newest([older, newer])
    assert restored.state["step"] == 4 and restored.source == str(older)
    (note,) = restored.notes
    assert str(newer) in note and "checksum" in note and "previous" in note

    (older / checkpoint.META_FILE).unlink()
    nothing = checkpoint.load_newest([older, newer])
    assert nothing.state is None and "restarts from step 0" in nothing.notes[-1]


def test_time_spent_before_a_checkpoint_is_still_counted_after_a_restore(ring8, monkeypatch):
    """Each evaluation says it spent 0.5 s on modes (as the evaluator will once it times its
    metrics): the restored trial's sums go on from the checkpoint's, never from zero."""
    from bench.trial.evaluate import Evaluator

    real_call = Evaluator.__call__

    def timed(self, model, step, seed):
        evaluation = real_call(self, model, step, seed)
        evaluation.seconds = {"modes": 0.5}
        return evaluation

    monkeypatch.setattr(Evaluator, "__call__", timed)
    trial = trial_of("gan")
    whole = collect(trial, ring8)
    state = whole[2].checkpoint  # step 12: evaluated at 8
    assert state["timing"]["metrics_s"] == {"modes": 0.5}
    resumed = collect(trial, ring8, resume=state)
    timing = resumed[-1].timing
    assert timing["metrics_s"] == whole[-1].timing["metrics_s"] == {"modes": 1.5}
    assert timing["train_s"] > state["timing"]["train_s"] > 0
    assert timing["setup_s"] > state["timing"]["setup_s"]  # a second attempt, set up again
    assert timing["wall_s"] > state["wall_s"]
    assert timing["steps_per_s"] == pytest.approx(24 / timing["train_s"], rel=1e-2)
