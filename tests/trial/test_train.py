"""The trial loop: cadence, determinism, and the divergence/error/NaN guards."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from bench.metrics import METRICS
from bench.models import MODELS
from bench.suite import expand, parse_suite
from bench.trial.evaluate import prepare_dataset
from bench.trial.report import TrialReport
from bench.trial.train import COMPLETED, DIVERGED, ERROR, RUNNING, BatchStream, run_trial

SUITE = """\
name: loop
seeds: [3]
budget: {{steps: 30, eval_every: 10, eval_samples: 300}}
datasets: [{dataset}]
models: [{{name: gan, hparams: {{hidden: 32, batch_size: 32}}}}]
tracking: {{wandb: disabled}}
"""


@pytest.fixture(scope="module")
def ring8():
    return prepare_dataset("ring8", {}, "ring8", n_reference=300)


def one_trial(dataset: str = "ring8"):
    (trial,) = expand(parse_suite(SUITE.format(dataset=dataset)))
    return trial


def collect(trial, assets) -> list[TrialReport]:
    payloads: list[TrialReport] = []
    run_trial(trial, assets, payloads.append)
    return payloads


def test_reports_every_evaluation_with_the_history_since_the_last(ring8):
    payloads = collect(one_trial(), ring8)
    assert [p.step for p in payloads] == [10, 20, 30]
    assert [p.status for p in payloads] == [RUNNING, RUNNING, COMPLETED]
    steps = [row["step"] for p in payloads for row in p.history]
    assert steps == list(range(1, 31))
    final = payloads[-1]
    assert {"fid", "modes", "high_quality"} <= set(final.metrics)
    pictures = {"samples.png", "modes.png"}
    assert set(final.files) == pictures | {"model_final.pt", "model_best.pt"}
    assert all(final.files[name].startswith(b"\x89PNG") for name in pictures)
    assert all(p.files is None for p in payloads[:-1])
    assert final.kept["final"]["step"] == 30 and final.kept["best"]["step"] in (10, 20, 30)
    # the metrics over training join the final evaluation only: one channel, like every metric
    assert all("diverged" not in p.metrics for p in payloads[:-1])
    assert final.metrics["diverged"] == 0.0
    assert {"loss_d_cv", "grad_norm_g_median", "d_gap", "d_saturated"} <= set(final.metrics)


def test_same_seed_same_numbers(ring8):
    first, second = collect(one_trial(), ring8), collect(one_trial(), ring8)
    assert [p.history for p in first] == [p.history for p in second]
    assert first[-1].metrics == second[-1].metrics
    assert first[-1].files == second[-1].files  # pictures and kept models, byte for byte


def test_batches_follow_the_seed_and_cover_an_epoch(ring8):
    def epoch(seed: int) -> torch.Tensor:
        stream = BatchStream(ring8, batch_size=100, seed=seed, device=torch.device("cpu"))
        return torch.cat([next(stream).x for _ in range(len(ring8.splits.train) // 100)])

    a, b, c = epoch(0), epoch(0), epoch(1)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(a.sort(dim=0).values, ring8.splits.train.sort(dim=0).values)


def test_a_nan_loss_stops_the_trial_as_diverged(ring8, monkeypatch):
    gan = MODELS.get("gan")
    original = gan.train_step
    calls = {"n": 0}

    def failing(self, batch):
        logs = original(self, batch)
        calls["n"] += 1
        return {**logs, "loss_g": math.nan} if calls["n"] == 7 else logs

    monkeypatch.setattr(gan, "train_step", failing)
    payloads = collect(one_trial(), ring8)
    final = payloads[-1]
    assert final.status == DIVERGED and final.step == 7
    assert "loss_g" in final.error and "step 7" in final.error
    assert [row["step"] for p in payloads for row in p.history][-1] == 7
    # the state it diverged in is kept; no evaluation ran before step 7, so there is no best
    assert set(final.kept) == {"final"} and final.kept["final"]["step"] == 7
    assert set(final.files) == {"model_final.pt"}


def test_an_exception_fails_only_its_trial_with_the_error_kept(ring8, monkeypatch):
    def broken(self, batch):
        raise RuntimeError("shape mismatch in my new layer")

    monkeypatch.setattr(MODELS.get("gan"), "train_step", broken)
    (final,) = collect(one_trial(), ring8)
    assert final.status == ERROR and final.step == 1
    assert final.error == "RuntimeError: shape mismatch in my new layer"
    assert "Traceback" in final.traceback
    assert final.files is None and final.kept is None  # a raising model is not kept


def test_nan_samples_make_metrics_not_computable_not_a_crash(ring8, monkeypatch):
    gan = MODELS.get("gan")
    monkeypatch.setattr(gan, "sample", lambda self, n, generator=None: torch.full((n, 2), math.nan))
    trial = one_trial()
    final = collect(trial, ring8)[-1]
    assert final.status == COMPLETED
    # every metric of samples is not computable; the history (stability) still is measured
    assert set(final.not_computable) == set(trial.metrics) - {"stability"} >= {"fid", "modes"}
    assert "NaN" in final.not_computable["fid"]
    assert set(final.metrics) <= set(METRICS.get("stability").directions)


def test_a_gpu_trial_without_cuda_fails_with_a_clear_error(ring8, monkeypatch):
    trial = one_trial()
    trial = type(trial).from_dict({**trial.to_dict(), "resources": {"cpu": 1, "gpu": 0.5}})
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    (final,) = collect(trial, ring8)
    assert final.status == ERROR and "CUDA" in final.error


def test_an_evaluation_schedule_sets_the_evaluation_steps(ring8):
    text = SUITE.format(dataset="ring8").replace(
        "eval_every: 10", "eval_at: [3, 7], checkpoint_every: 5"
    )
    (trial,) = expand(parse_suite(text))
    payloads = collect(trial, ring8)
    evaluated = [p.step for p in payloads if p.metrics]
    assert evaluated == [3, 7, 30]  # the last step is always evaluated
    saved = [p.step for p in payloads if p.checkpoint is not None]
    assert saved == [5, 10, 15, 20, 25]


def test_every_report_says_where_the_time_went_so_far(ring8):
    payloads = collect(one_trial(), ring8)
    parts = ("setup_s", "train_s", "evaluate_s", "pictures_s", "checkpoint_s", "keep_s")
    for before, after in itertools.pairwise(payloads):
        assert all(after.timing[k] >= before.timing[k] for k in (*parts, "wall_s"))
    for p in payloads:
        timing = p.timing
        assert sum(timing[k] for k in parts) <= timing["wall_s"] + 1e-3  # each rounded to 0.1 ms
        assert timing["wall_s"] == pytest.approx(p.wall_s, abs=1e-3)
        assert timing["steps_per_s"] == pytest.approx(p.step / timing["train_s"], rel=1e-2)
    assert payloads[-1].timing["pictures_s"] > 0 == payloads[0].timing["pictures_s"]


def test_every_report_carries_the_measurement_protocol_and_metric_seconds(ring8):
    payloads = collect(one_trial(), ring8)
    protocol = payloads[-1].protocol
    assert protocol["feature_space"] == "raw" and protocol["extractor"] == "none"
    assert protocol["n_generated"] == 300 and protocol["n_reference"] == 300
    assert protocol["n_heldout"] == len(ring8.heldout.features)
    assert "seed 1234" in protocol["reference_split"]
    assert set(protocol["versions"]) == {"bench", "torch", "torch-fidelity"}
    assert protocol["modes.hq_threshold_std"] == 3.0  # each metric's settings ride along
    assert all(p.protocol == protocol for p in payloads)
    seconds = payloads[-1].timing["metrics_s"]
    assert {"fid", "modes"} <= set(seconds) and all(s >= 0 for s in seconds.values())


def test_the_protocol_names_the_settings_each_value_depends_on() -> None:
    from bench.metrics import METRICS

    names = ["fid", "kid", "prdc", "ndb", "memorization", "modes"]
    settings = {f"{n}.{k}": v for n in names for k, v in METRICS.get(n).settings.items()}
    assert settings["kid.subsets"] == 100 and settings["kid.subset_size"] == 1000
    assert settings["prdc.k"] == 5 and settings["ndb.bins"] == 100
    assert settings["memorization.ct_cells"] == 20 and settings["modes.hq_threshold_std"] == 3.0
