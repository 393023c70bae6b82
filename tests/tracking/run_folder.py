"""A tiny run folder written in-process (no Ray, no training): two trials of one leaderboard row
each, one completed and one diverged, with the files a real run leaves; and wandb isolated."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from bench.report.markdown import write_leaderboard
from bench.results.record import TrialRecord
from bench.results.store import RunStore
from bench.suite import expand, parse_suite
from bench.suite.schema import Suite
from tests.tracking.wandb_offline import OfflineRun, offline_runs, read_finished

SUITE = """\
name: track
seeds: [4]
budget: {steps: 4, eval_every: 2, eval_samples: 10}
datasets: [ring8]
models: [{name: gan, hparams: {lr: [1.0e-4, 2.0e-4]}}]
metrics: [fid]
tracking: {wandb: offline, project: bench-test}
"""

STABLE = {"diverged": 0.0, "loss_d_cv": 0.25}  # training stability keys of the completed trial


def isolate_wandb(patch: pytest.MonkeyPatch, home: Path) -> None:
    """Offline, silent, and wandb's own folders (staging, cache, settings) inside `home`."""
    patch.setenv("WANDB_MODE", "offline")
    patch.setenv("WANDB_SILENT", "true")
    for name in ("WANDB_DATA_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR"):
        patch.setenv(name, str(home / name.lower()))


def suite() -> Suite:
    return parse_suite(SUITE)


def completed(record: TrialRecord) -> TrialRecord:
    record.history = [{"step": s, "loss_d": 1.0 / s, "loss_g": 0.5 * s} for s in range(1, 5)]
    record.evaluations = [
        {"step": 2, "metrics": {"fid": 3.0}, "not_computable": {}},
        {"step": 4, "metrics": {"fid": 1.5, **STABLE}, "not_computable": {}},
    ]
    record.status, record.step = "completed", 4
    return record


def diverged(record: TrialRecord) -> TrialRecord:
    record.history = [{"step": 1, "loss_d": 0.5, "loss_g": 0.5}, {"step": 2, "loss_d": 0.2}]
    record.history.append({"step": 3, "loss_d": float("nan"), "loss_g": 1.0})
    record.evaluations = [
        {"step": 2, "metrics": {"fid": 9.0}, "not_computable": {}},
        {
            "step": 3,
            "metrics": {"fid": 99.0, "diverged": 1.0, "diverged_step": 3.0},
            "not_computable": {},
        },
    ]
    record.status, record.step, record.error = "diverged", 3, "non-finite loss_d at step 3"
    return record


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(buffer, format="PNG")
    return buffer.getvalue()


def finished_records(spec: Suite) -> list[TrialRecord]:
    first, second = expand(spec)
    return [completed(TrialRecord(first)), diverged(TrialRecord(second))]


def write_run(root: Path, complete: bool = True) -> tuple[RunStore, list[TrialRecord]]:
    """A run folder as a driver leaves it: trial files, and (complete) the leaderboard files."""
    spec = suite()
    records = finished_records(spec)
    store = RunStore.create(root, spec, len(records))
    for record in records:
        store.write_config(record.trial)
        store.write_trial(record, {"samples.png": png()})
    if complete:
        board = store.finish("complete", {"completed": 1, "diverged": 1})
        write_leaderboard(store.path, board)
    else:
        store.mark("interrupted", {"completed": 1, "diverged": 1})
    return store, records


def read_runs(run_dir: Path) -> dict[str, list[OfflineRun]]:
    """Every offline copy under the run folder, finished, grouped by wandb id."""
    grouped: dict[str, list[OfflineRun]] = {}
    for run in offline_runs(run_dir):
        grouped.setdefault(run.id, []).append(read_finished(run.folder))
    return grouped


def by_name(run_dir: Path) -> dict[str, OfflineRun]:
    """The newest copy of each run, by its display name (trial id, or the suite's name)."""
    return {copies[-1].name: copies[-1] for copies in read_runs(run_dir).values()}
