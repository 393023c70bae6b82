"""The generic trial loop: steps, evaluation cadence and the divergence guard.

It knows nothing of Ray, files or wandb: everything leaves through `report(TrialReport)`, one
call per evaluation or checkpoint, carrying the losses logged since the previous call. The
last call has a final status ("completed", "diverged" or "error"); a trial never raises for a
model's sake.

Every `checkpoint_every` steps the report also carries `checkpoint`: a plain dict with the model's
training state (only through `GenerativeModel.training_state()`, so it works for every model), all
RNG states, the data stream's position, the step, and the history and evaluations so far. Given
that dict back (`resume=`), a fresh process continues bit for bit where the trial stopped, and its
first report replays the history and evaluations up to there (`restored`), so whoever collects
the reports never needs anything but them.

Every report carries `timing` (where the trial's wall time went so far), and the last one
`files`: file name -> bytes for the trial's folder (its pictures and its kept models, see
bench.trial.kept), with `kept` saying which models those are.
"""

from __future__ import annotations

import copy
import math
import random
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from bench.models import MODELS, Batch, GenerativeModel
from bench.trial import Trial, evaluation_steps
from bench.trial.evaluate import DatasetAssets, Evaluation, Evaluator
from bench.trial.kept import Keeper
from bench.trial.pictures import trial_pictures
from bench.trial.report import Status, TrialReport

RUNNING, COMPLETED, DIVERGED, ERROR = (
    Status.RUNNING,
    Status.COMPLETED,
    Status.DIVERGED,
    Status.ERROR,
)
Report = Callable[[TrialReport], None]


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

    def state(self) -> dict[str, torch.Tensor]:
        return {"generator": self.gen.get_state(), "order": self.order.clone()}

    def load_state(self, state: dict[str, torch.Tensor]) -> None:
        self.gen.set_state(state["generator"])
        self.order = state["order"].clone()

    def __next__(self) -> Batch:
        if len(self.order) < self.batch_size:
            self.order = torch.randperm(len(self.x), generator=self.gen)
        idx, self.order = self.order[: self.batch_size], self.order[self.batch_size :]
        return Batch(self.x[idx], None if self.y is None else self.y[idx]).to(self.device)


def rng_state(device: torch.device) -> dict[str, Any]:
    state = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state_all(state["cuda"])


@dataclass
class Timing:
    """Where a trial's wall time went, in seconds summed over the trial (and kept in its
    checkpoints, so a restored trial goes on counting): building the model and the evaluator
    (every attempt), the loop around `train_step`, the evaluations (`metrics_s` splits them by
    metric when the evaluator times them), the final pictures, the checkpoint copies, and the
    kept models' snapshots and bytes. What is left of `wall_s` is the harness's own."""

    setup_s: float = 0.0
    train_s: float = 0.0
    evaluate_s: float = 0.0
    pictures_s: float = 0.0
    checkpoint_s: float = 0.0
    keep_s: float = 0.0
    metrics_s: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def timed(self, part: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            setattr(self, part, getattr(self, part) + time.perf_counter() - start)

    def add_metrics(self, evaluation: Evaluation) -> None:
        """Once per evaluation, after its last metric: the evaluator's seconds per metric."""
        for name, seconds in (getattr(evaluation, "seconds", None) or {}).items():
            self.metrics_s[name] = self.metrics_s.get(name, 0.0) + seconds

    def summary(self, steps: int, wall_s: float) -> dict[str, Any]:
        parts = {k: round(v, 4) for k, v in asdict(self).items() if k != "metrics_s"}
        return {
            **parts,
            "metrics_s": {k: round(v, 4) for k, v in self.metrics_s.items()},
            "steps_per_s": round(steps / self.train_s, 3) if self.train_s > 0 else None,
            "wall_s": round(wall_s, 4),
        }


@dataclass
class TrialState:
    """What the loop accumulates: everything since the last report (`pending`) and, for
    checkpoints, everything since step 0 (`history`, `evaluations`)."""

    trial: Trial
    started: float = field(default_factory=time.perf_counter)
    step: int = 0
    pending: list[dict[str, float]] = field(default_factory=list)
    history: list[dict[str, float]] = field(default_factory=list)
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    wall_before: float = 0.0  # seconds spent in earlier attempts, up to the restored checkpoint
    restored: dict[str, Any] | None = None  # replayed with the first report after a restore
    timing: Timing = field(default_factory=Timing)
    keeper: Keeper = field(init=False)
    protocol: dict[str, Any] = field(default_factory=dict)  # how its numbers are measured

    def __post_init__(self) -> None:
        self.keeper = Keeper(self.trial)

    def log(self, row: dict[str, float]) -> None:
        self.pending.append(row)
        self.history.append(row)

    @property
    def wall_s(self) -> float:
        return self.wall_before + time.perf_counter() - self.started

    def report(
        self, status: Status, evaluation: Evaluation | None = None, **extra: Any
    ) -> TrialReport:
        """The report of now: the rows logged since the last one, and `evaluation` if any."""
        rows, self.pending = self.pending, []
        restored, self.restored = self.restored, None
        return TrialReport(
            step=self.step,
            status=status,
            history=rows,
            metrics=evaluation.values if evaluation else {},
            not_computable=evaluation.not_computable if evaluation else {},
            wall_s=self.wall_s,
            timing=self.timing.summary(self.step, self.wall_s),
            protocol=self.protocol,
            restored=restored,
            **extra,
        )

    def evaluated(self, evaluation: Evaluation) -> None:
        self.evaluations.append(
            {
                "step": evaluation.step,
                "metrics": dict(evaluation.values),
                "not_computable": dict(evaluation.not_computable),
            }
        )

    def checkpoint(
        self, model: GenerativeModel, batches: BatchStream, device: torch.device
    ) -> dict[str, Any]:
        """Everything needed to continue exactly from here, as plain objects (copied: the
        caller may serialise it after training has moved on)."""
        return copy.deepcopy(
            {
                "trial_id": self.trial.trial_id,
                "step": self.step,
                "model": model.training_state(),
                "rng": rng_state(device),
                "batches": batches.state(),
                "history": self.history,
                "evaluations": self.evaluations,
                "wall_s": self.wall_s,
                "timing": asdict(self.timing),
                "keeper": self.keeper.state(),
            }
        )

    def restore(
        self,
        state: dict[str, Any],
        model: GenerativeModel,
        batches: BatchStream,
        device: torch.device,
        source: str | None = None,
    ) -> None:
        if state["trial_id"] != self.trial.trial_id:
            raise ValueError(
                f"checkpoint belongs to trial {state['trial_id']}, not {self.trial.trial_id}"
            )
        model.load_training_state(state["model"])
        set_rng_state(state["rng"], device)
        batches.load_state(state["batches"])
        self.step = state["step"]
        self.history = list(state["history"])
        self.evaluations = list(state["evaluations"])
        # this attempt's clock started with its setup, which is time spent on the trial too
        self.wall_before = state["wall_s"]
        self.timing = Timing(**state.get("timing", {}))  # checkpoints before timing: from zero
        self.keeper.load_state(state.get("keeper"))
        self.restored = {
            "step": self.step,
            "source": source,
            "history": list(self.history),
            "evaluations": list(self.evaluations),
        }


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


def checkpoint_every(trial: Trial) -> int:
    """Configs written before checkpoints existed lack the key: checkpoint at every evaluation."""
    return trial.budget.get("checkpoint_every") or trial.budget["eval_every"]


def run_trial(
    trial: Trial,
    assets: DatasetAssets,
    report: Report,
    resume: dict[str, Any] | None = None,
    resume_source: str | None = None,
) -> Status:
    """Train `trial` to its budget, evaluating at its evaluation steps and checkpointing every
    `checkpoint_every`; continue from the checkpoint `resume` when given. Returns the final status.
    """
    state = TrialState(trial)
    try:
        return _train(trial, assets, report, state, resume, resume_source)
    except Exception as exc:  # a model's bug fails its trial, never the suite
        report(
            state.report(
                ERROR, error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc()
            )
        )
        return ERROR


def _train(
    trial: Trial,
    assets: DatasetAssets,
    report: Report,
    state: TrialState,
    resume: dict[str, Any] | None,
    resume_source: str | None,
) -> Status:
    began = time.perf_counter()
    device = configure_torch(trial.resources)
    seed_everything(trial.seed)
    model = build_model(trial, assets, device)
    batches = BatchStream(assets, model.hparams.batch_size, trial.seed, device)
    evaluator = Evaluator(assets, list(trial.metrics), trial.budget["eval_samples"], device)
    state.protocol = evaluator.protocol()
    if resume is not None:
        state.restore(resume, model, batches, device, resume_source)
    state.timing.setup_s += time.perf_counter() - began  # after a restore: the restored sums
    steps, evaluate_at = trial.budget["steps"], set(evaluation_steps(trial.budget))
    save_every = checkpoint_every(trial)
    timing = state.timing
    for step in range(state.step + 1, steps + 1):
        state.step = step
        with timing.timed("train_s"):
            logs = model.train_step(next(batches))
        state.log({"step": step, **logs})
        problem = nonfinite(logs)
        if problem:
            error = f"diverged at step {step}: {problem}"
            # how it diverged is part of the record: the metrics over training are measured
            with timing.timed("evaluate_s"):
                evaluation = evaluator.finish(Evaluation(step), state.history, model)
            state.evaluated(evaluation)
            timing.add_metrics(evaluation)
            report(state.report(DIVERGED, evaluation, error=error, **kept(state, model)))
            return DIVERGED
        final = step == steps
        evaluation = None
        if step in evaluate_at:
            evaluation = evaluate(state, evaluator, model, final)
        # the final step needs no checkpoint: a completed trial is never continued
        due = step % save_every == 0 and not final
        saved = None
        if due:
            with timing.timed("checkpoint_s"):
                saved = state.checkpoint(model, batches, device)
        if final:
            with timing.timed("pictures_s"):
                pictures = trial_pictures(evaluation, assets, model, trial.seed)
            files = kept(state, model)
            files["files"] = {**pictures, **files["files"]}
            report(state.report(COMPLETED, evaluation, **files))
        elif evaluation is not None or saved is not None:
            report(state.report(RUNNING, evaluation, checkpoint=saved))
    return COMPLETED


def evaluate(
    state: TrialState, evaluator: Evaluator, model: GenerativeModel, final: bool
) -> Evaluation:
    """One evaluation (the metrics over training join the last), timed, and shown to the
    keeper right away: the model is still the one that drew the evaluation's samples."""
    with state.timing.timed("evaluate_s"):
        evaluation = evaluator(model, state.step, seed=state.trial.seed)
        if final:
            evaluation = evaluator.finish(evaluation, state.history, model)
    state.evaluated(evaluation)
    state.timing.add_metrics(evaluation)
    with state.timing.timed("keep_s"):
        state.keeper.consider(evaluation, model)
    return evaluation


def kept(state: TrialState, model: GenerativeModel) -> dict[str, Any]:
    """The final report's `files` (the kept models as bytes) and `kept` (what they hold)."""
    last = state.evaluations[-1]["metrics"] if state.evaluations else {}
    with state.timing.timed("keep_s"):
        files, described = state.keeper.files(model, state.step, last)
    return {"files": files, "kept": described}
