"""Kept models: every trial leaves its final model state and its state at its best evaluation in
its folder, loadable from config.json alone (no data, no checkpoint, no optimizer).

Worker side, `Keeper` watches the evaluations and snapshots the model whenever the ranking metric
improves (after `fit_sampler` ran, so the snapshot is exactly the model that drew that
evaluation's samples); at the trial's end it turns the kept states into file bytes that travel to
the driver in the final report. Driver or command-line side, `load_kept` rebuilds the model from
the trial's config (its registered model class and its dataset's static `info`) and loads a state.

A kept file is a `torch.save` of {"state_dict", "step", "metric", "value", "trial_id"}: plain
tensors and scalars, so `torch.load(..., weights_only=True)` reads it.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from bench.direction import Direction, better
from bench.errors import BenchError
from bench.metrics.base import ranking_keys
from bench.models.base import GenerativeModel
from bench.results.layout import CONFIG_FILE
from bench.trial import Trial
from bench.trial.evaluate import Evaluation, generate
from bench.userfiles import check_state_dict, load_state

KEPT_FILES = {"final": "model_final.pt", "best": "model_best.pt"}
DEFAULT_KEEP = "both"


def kept_kinds(budget: Mapping[str, Any]) -> tuple[str, ...]:
    """Which states a trial keeps: its budget carries the suite's `keep` unless it is the
    default (configs written before `keep` existed have none, and kept both)."""
    keep = budget.get("keep") or DEFAULT_KEEP
    return {"both": ("final", "best"), "none": ()}.get(keep, (keep,))


def ranking_score(
    order: list[tuple[str, str]], values: Mapping[str, float]
) -> tuple[int, str, str, float] | None:
    """(priority, key, direction, value) of the first ranking key in `values` with a finite
    value (priority 0 is the leaderboard's first choice), or None."""
    for priority, (key, direction) in enumerate(order):
        value = values.get(key)
        if value is not None and math.isfinite(value):
            return priority, key, direction, float(value)
    return None


def improves(direction: Direction, value: float, than: float) -> bool:
    """Strictly better: on a tie the earlier evaluation stays the best, as in the leaderboard."""
    return better(value, than, direction)


def cpu_state(model: GenerativeModel) -> dict[str, torch.Tensor]:
    """A copy of the model's parameters and buffers on the CPU, safe from further training."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


class Keeper:
    """Follows one trial's evaluations and holds a snapshot of its best model (only when the
    trial keeps the best: a big model is never copied for nothing)."""

    def __init__(self, trial: Trial) -> None:
        self.trial_id = trial.trial_id
        self.kinds = kept_kinds(trial.budget)
        self.order = ranking_keys(trial.metrics)
        self.best: dict[str, Any] | None = None
        self.priority: int | None = None

    def consider(self, evaluation: Evaluation, model: GenerativeModel) -> None:
        score = ranking_score(self.order, evaluation.values)
        if score is None or "best" not in self.kinds:
            return
        priority, key, direction, value = score
        if (
            self.best is None
            or self.priority is None
            or priority < self.priority  # a key the leaderboard prefers outranks any value
            or (priority == self.priority and improves(direction, value, self.best["value"]))
        ):
            self.best = self.kept(model, evaluation.step, key, value)
            self.priority = priority

    def kept(
        self, model: GenerativeModel, step: int, key: str | None, value: float | None
    ) -> dict[str, Any]:
        return {
            "state_dict": cpu_state(model),
            "step": step,
            "metric": key,
            "value": value,
            "trial_id": self.trial_id,
        }

    def state(self) -> dict[str, Any]:
        """For the trial's checkpoints: a restored trial still knows its best so far."""
        return {"best": self.best, "priority": self.priority}

    def load_state(self, state: Mapping[str, Any] | None) -> None:
        state = state or {}
        self.best, self.priority = state.get("best"), state.get("priority")

    def files(
        self, model: GenerativeModel, step: int, values: Mapping[str, float]
    ) -> tuple[dict[str, bytes], dict[str, dict[str, Any]]]:
        """The kept files (name -> bytes) and what each holds (for metrics.json), at the end."""
        states: dict[str, dict[str, Any]] = {}
        if "final" in self.kinds:
            score = ranking_score(self.order, values)
            key, value = (score[1], score[3]) if score else (None, None)
            states["final"] = self.kept(model, step, key, value)
        if "best" in self.kinds and self.best is not None:
            states["best"] = self.best
        files = {KEPT_FILES[kind]: to_bytes(state) for kind, state in states.items()}
        described = {
            kind: {"file": KEPT_FILES[kind], **{k: v for k, v in s.items() if k != "state_dict"}}
            for kind, s in states.items()
        }
        return files, described


def to_bytes(state: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


# --- reading kept models -------------------------------------------------------------------------


def read_trial(trial_dir: Path) -> Trial:
    """The trial whose folder this is, from its config.json, read by the run folder's one reader
    (bench.results.folder), so an older config comes upgraded."""
    from bench.results.folder import RunFolder

    trial_dir = Path(trial_dir)
    if not (trial_dir / CONFIG_FILE).is_file():
        raise BenchError(
            f"{trial_dir} is not a trial folder (it has no config.json)",
            where=str(trial_dir),
            fix="give a trial's folder, RUN_DIR/trials/<trial-id>",
        )
    return RunFolder(trial_dir.parent.parent).trial(trial_dir.name).trial


def kept_path(trial_dir: Path, which: str) -> Path:
    """The kept file of `which` state, or a BenchError saying what the trial did keep."""
    if which not in KEPT_FILES:
        raise BenchError(
            f"there is no kept model called '{which}'",
            fix=f"use one of {', '.join(KEPT_FILES)}",
        )
    path = Path(trial_dir) / KEPT_FILES[which]
    if path.is_file():
        return path
    others = [kind for kind, name in KEPT_FILES.items() if (Path(trial_dir) / name).is_file()]
    raise BenchError(
        f"trial {Path(trial_dir).name} kept no {which} model ({path.name} is missing; it kept "
        f"{' and '.join(others) or 'none'})",
        where=str(trial_dir),
        fix=f"use --which {others[0]}"
        if others
        else "trials keep models unless their suite says `keep: none` (or ran before bench kept "
        "them, or did not complete); run the suite again with `keep: both`",
    )


def blank_model(trial: Trial, config: Path | None = None) -> GenerativeModel:
    """The trial's model as built before training, from its config: no data is loaded (the
    dataset's `info` is static)."""
    from bench.data import DATASETS
    from bench.models import MODELS
    from bench.plugins import load_registries

    load_registries()
    dataset_cls = DATASETS.get(trial.dataset)
    params = validated(dataset_cls.Params, trial.dataset_params, "dataset_params", trial, config)
    model_cls = MODELS.get(trial.model)
    hparams = validated(model_cls.HParams, trial.hparams, "hparams", trial, config)
    return model_cls(hparams, dataset_cls(params).info)


def validated(schema: Any, values: Any, field: str, trial: Trial, config: Path | None) -> Any:
    """`values` as `schema`; values it refuses (an edited config.json, another bench version's)
    are a BenchError naming `config` and the fields, not a traceback."""
    from pydantic import ValidationError

    try:
        return schema.model_validate(values)
    except ValidationError as exc:
        errors = [f"{'.'.join(map(str, (field, *e['loc'])))}: {e['msg']}" for e in exc.errors()[:3]]
        more = f" (and {exc.error_count() - 3} more)" if exc.error_count() > 3 else ""
        raise BenchError(
            f"its {field} do not fit {trial.model} on {trial.dataset}: {'; '.join(errors)}{more}",
            where=str(config) if config else None,
            fix="restore config.json from a copy (bench writes it with the trial); a model whose "
            "parameters changed since needs the bench version that ran it",
        ) from None


def open_kept(trial_dir: Path, which: str = "final") -> tuple[Trial, GenerativeModel, dict]:
    """(trial, model with the kept state loaded, what the file says of it: step, metric, value)."""
    trial = read_trial(trial_dir)
    path = kept_path(trial_dir, which)
    kept = read_kept(path)
    model = blank_model(trial, Path(trial_dir) / CONFIG_FILE)
    model.load_state_dict(
        check_state_dict(path, "kept model", kept.pop("state_dict"), cpu_state(model))
    )
    return trial, model.eval(), kept


def read_kept(path: Path) -> dict[str, Any]:
    """A kept file, read safely and checked: a state_dict and the integer step it was kept at
    (its metric a name or None, its value a number or None)."""
    kept = load_state(path, "kept model", fix=REKEEP)
    step, metric, value = kept.get("step"), kept.get("metric"), kept.get("value")
    if (
        "state_dict" not in kept
        or not isinstance(step, int)
        or isinstance(step, bool)
        or not isinstance(metric, str | None)
        or not isinstance(value, int | float | None)
    ):
        raise BenchError(
            f"the kept model holds {sorted(map(str, kept))[:8]} with step {step!r}; expected a "
            "state_dict, an integer step, a metric name and its value",
            where=str(path),
            fix=REKEEP,
        )
    return kept


REKEEP = (
    "the kept file is damaged or not one bench wrote: restore it from a copy of the run, or run "
    "the suite again to keep a new one"
)


def load_kept(trial_dir: Path, which: str = "final") -> tuple[Trial, GenerativeModel]:
    """A trial's kept model ("final" or "best"), built from its config.json alone, on the CPU."""
    trial, model, _ = open_kept(trial_dir, which)
    return trial, model


def draw(trial: Trial, model: GenerativeModel, n: int, seed: int) -> torch.Tensor:
    """n samples exactly as the trial's evaluations draw them (`evaluate.generate`). A model
    that samples from data (cyclegan translates held-out images) gets its dataset loaded."""
    try:
        return generate(model, n, seed)
    except RuntimeError:
        from bench.data import DATASETS

        dataset_cls = DATASETS.get(trial.dataset)
        model.fit_sampler(dataset_cls(dataset_cls.Params(**trial.dataset_params)).load())
        return generate(model, n, seed)


def sample_kept(
    trial_dir: Path, n: int, which: str = "final", seed: int | None = None
) -> tuple[Trial, dict[str, Any], torch.Tensor]:
    """(trial, what the kept file says of itself, n samples). The default seed is the trial's
    own, which its evaluations draw with: the same n then gives the evaluation's very samples."""
    trial, model, kept = open_kept(trial_dir, which)
    samples = draw(trial, model, n, trial.seed if seed is None else seed)
    return trial, kept, samples


def save_samples(path: Path, samples: torch.Tensor, **about: Any) -> Path:
    """An .npz with the samples under 'samples' (what `bench evaluate --fake` reads first) and
    each of `about` (trial id, step, seed, ...) as a small array beside them."""
    import numpy as np

    from bench.io import write_with

    arrays = {"samples": samples.numpy(), **{k: np.asarray(v) for k, v in about.items()}}
    return write_with(Path(path), lambda handle: np.savez(handle, **arrays))


def evaluate_command(trial_dir: Path, trial: Trial, samples: Path) -> str | None:
    """The `bench evaluate` line that measures `samples` against the trial's own reference set
    (its dataset's training split, `reference_samples` points), or None when the dataset has
    parameters, which `--real` cannot pass."""
    from bench.data import DATASETS

    dataset_cls = DATASETS.get(trial.dataset)
    if dataset_cls.Params(**trial.dataset_params) != dataset_cls.Params():
        return None  # --real names a dataset with its default parameters only
    reference = int(trial.budget.get("reference_samples") or trial.budget["eval_samples"])
    from bench.metrics.base import METRICS
    from bench.probes import unmeasurable

    measurable = [
        name
        for name in trial.metrics
        if not METRICS.get(name).over_history and unmeasurable(METRICS.get(name), None) is None
    ]
    metrics = ",".join(measurable)
    return (
        f"bench evaluate --real {trial.dataset} --fake {samples} --reference {reference} "
        f"--metrics {metrics}"
    )
