"""The generic trial loop: steps, evaluation cadence and the divergence guard.

It knows nothing of Ray, files or wandb: everything leaves through `report(payload)`, one call
per evaluation, whose payload carries the losses logged since the previous call. The last call
has a final status ("completed", "diverged" or "error"); a trial never raises for a model's sake.
"""

from __future__ import annotations

import math
import random
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from bench.evaluate import DatasetAssets, Evaluation, Evaluator
from bench.models import MODELS, Batch, GenerativeModel
from bench.report import preview
from bench.suite import Trial

RUNNING, COMPLETED, DIVERGED, ERROR = "running", "completed", "diverged", "error"
Report = Callable[[dict[str, Any]], None]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # seeds every CUDA device too


class BatchStream:
    """Endless minibatches: a fresh permutation of the training split per epoch, drawn from a
    generator of its own so the data order depends on the trial seed alone."""

    def __init__(self, assets: DatasetAssets, batch_size: int, seed: int, device: torch.device):
        self.x, self.y = assets.splits.train, assets.splits.train_labels
        self.batch_size = min(batch_size, len(self.x))
        self.gen = torch.Generator().manual_seed(seed)
        self.device = device
        self.order = torch.empty(0, dtype=torch.long)

    def __next__(self) -> Batch:
        if len(self.order) < self.batch_size:
            self.order = torch.randperm(len(self.x), generator=self.gen)
        idx, self.order = self.order[: self.batch_size], self.order[self.batch_size :]
        return Batch(self.x[idx], None if self.y is None else self.y[idx]).to(self.device)


@dataclass
class TrialState:
    """What the loop accumulates between two reports."""

    trial: Trial
    started: float = field(default_factory=time.perf_counter)
    step: int = 0
    pending: list[dict[str, float]] = field(default_factory=list)

    def payload(self, status: str, evaluation: Evaluation | None = None, **extra: Any) -> dict:
        rows, self.pending = self.pending, []
        payload = {
            "step": self.step,
            "status": status,
            "history": rows,
            "metrics": evaluation.values if evaluation else {},
            "not_computable": evaluation.not_computable if evaluation else {},
            "samples": None,
            "error": None,
            "traceback": None,
            "wall_s": time.perf_counter() - self.started,
        }
        payload.update(extra)
        return payload


def nonfinite(logs: dict[str, float]) -> str | None:
    """The first logged value that is NaN or infinite, described, or None."""
    for key, value in logs.items():
        if not math.isfinite(value):
            return f"{key} became {value}"
    return None


def build_model(trial: Trial, assets: DatasetAssets, device: torch.device) -> GenerativeModel:
    model_cls = MODELS.get(trial.model)
    return model_cls(model_cls.HParams(**trial.hparams), assets.info).to(device)


def configure_torch(resources: dict[str, float]) -> torch.device:
    """Threads match the trial's CPUs; a trial with a GPU share runs on CUDA."""
    torch.set_num_threads(max(1, int(resources["cpu"])))
    if resources["gpu"] <= 0:
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise RuntimeError(
            "the trial was given a GPU but torch cannot use CUDA on this node "
            f"(torch {torch.__version__}); install a CUDA build of torch there or set gpu: 0"
        )
    return torch.device("cuda")


def run_trial(trial: Trial, assets: DatasetAssets, report: Report) -> str:
    """Train `trial` to its budget, evaluating every `eval_every` steps; return the final status."""
    state = TrialState(trial)
    try:
        return _train(trial, assets, report, state)
    except Exception as exc:  # a model's bug fails its trial, never the suite
        report(
            state.payload(
                ERROR, error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc()
            )
        )
        return ERROR


def _train(trial: Trial, assets: DatasetAssets, report: Report, state: TrialState) -> str:
    device = configure_torch(trial.resources)
    seed_everything(trial.seed)
    model = build_model(trial, assets, device)
    batches = BatchStream(assets, model.hparams.batch_size, trial.seed, device)
    evaluator = Evaluator(assets, list(trial.metrics), trial.budget["eval_samples"], device)
    steps, eval_every = trial.budget["steps"], trial.budget["eval_every"]
    for step in range(1, steps + 1):
        state.step = step
        logs = model.train_step(next(batches))
        state.pending.append({"step": step, **logs})
        problem = nonfinite(logs)
        if problem:
            report(state.payload(DIVERGED, error=f"diverged at step {step}: {problem}"))
            return DIVERGED
        if step % eval_every == 0 or step == steps:
            evaluation = evaluator(model, step, seed=trial.seed)
            final = step == steps
            extra = {"samples": preview(evaluation.samples, assets.info)} if final else {}
            report(state.payload(COMPLETED if final else RUNNING, evaluation, **extra))
    return COMPLETED
