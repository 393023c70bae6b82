"""The suite file's schema: pydantic models of every section, with the description of each field
that error messages quote as the fix.

A suite is a grid: model entries x their hyperparameter grid points x datasets x seeds. In
`hparams`, a YAML list is a grid axis, except for hyperparameters whose own type is a list or tuple:
there a flat list is one value and a list of lists is an axis."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from bench.suite.published import Published
from bench.suite.text import short

if TYPE_CHECKING:
    from bench.suite.source import Locator
    from bench.trial import Trial

_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LogSchedule(Strict):
    log: int = Field(
        ge=2, description="how many evaluations, spaced evenly on a log scale, the last at `steps`"
    )
    first: int | None = Field(
        None, ge=1, description="the step of the first evaluation; default steps/100"
    )


SCHEDULE_KEYS = ("eval_every", "eval_at", "eval_schedule")
KeepChoice = Literal["final", "best", "both", "none"]


class Budget(Strict):
    steps: int = Field(ge=1, description="training steps per trial, a whole number >= 1")
    eval_every: int | None = Field(
        None,
        ge=1,
        description="steps between evaluations, a whole number from 1 up to `steps` (or give "
        "eval_at or eval_schedule instead)",
    )
    eval_at: list[Annotated[int, Field(ge=1)]] | None = Field(
        None,
        min_length=1,
        description="the steps to evaluate at, e.g. [1000, 3000, 10000]; the last step is "
        "always evaluated",
    )
    eval_schedule: LogSchedule | None = Field(
        None,
        description="log-spaced evaluations ending at `steps`, e.g. {log: 6} (from steps/100) or "
        "{log: 6, first: 500}",
    )
    eval_samples: int = Field(
        2000, ge=2, description="samples generated per evaluation, a whole number >= 2"
    )
    reference_samples: int | None = Field(
        None,
        ge=2,
        description="real training points each sample metric compares with (one reference set "
        "per dataset, so a suite-level key); defaults to the suite's eval_samples",
    )
    checkpoint_every: int | None = Field(
        None,
        ge=1,
        description="steps between checkpoints a failed trial restarts from, a whole number from "
        "1 up to `steps`; defaults to eval_every (steps/10 with eval_at or eval_schedule)",
    )
    keep: KeepChoice | None = Field(
        None,
        description="this model's own `keep` over the suite's: final, best, both or none (the "
        "suite's `keep` is copied here, so it travels with every trial's config.json)",
    )

    @field_validator("eval_every")
    @classmethod
    def _within_steps(cls, value: int | None, info: Any) -> int | None:
        steps = info.data.get("steps")
        if value is not None and steps is not None and value > steps:
            raise ValueError(
                f"eval_every ({value}) is larger than steps ({steps}), so no evaluation would run"
            )
        return value

    @field_validator("eval_at")
    @classmethod
    def _steps_in_budget(cls, value: list[int] | None, info: Any) -> list[int] | None:
        steps = info.data.get("steps")
        if value is None or steps is None:
            return value
        beyond = [s for s in value if s > steps]
        if beyond:
            raise ValueError(f"eval_at lists steps beyond steps ({steps}): {beyond}")
        if len(set(value)) != len(value) or value != sorted(value):
            raise ValueError(f"eval_at must list distinct steps in increasing order, got {value}")
        return value

    @field_validator("eval_schedule")
    @classmethod
    def _schedule_in_budget(cls, value: LogSchedule | None, info: Any) -> LogSchedule | None:
        steps = info.data.get("steps")
        first = None if value is None else value.first
        if first is not None and steps is not None and first >= steps:
            raise ValueError(f"eval_schedule starts at step {first}, not before steps ({steps})")
        return value

    @field_validator("checkpoint_every")
    @classmethod
    def _checkpoint_within_steps(cls, value: int | None, info: Any) -> int | None:
        steps = info.data.get("steps")
        if value is not None and steps is not None and value > steps:
            raise ValueError(
                f"checkpoint_every ({value}) is larger than steps ({steps}), so no checkpoint "
                "would be written"
            )
        return value

    @model_validator(mode="after")
    def _one_schedule(self) -> Budget:
        given = [key for key in SCHEDULE_KEYS if getattr(self, key) is not None]
        if len(given) != 1:
            what = "none of" if not given else "more than one of"
            raise ValueError(
                f"the budget gives {what} eval_every, eval_at and eval_schedule; give exactly one "
                "(e.g. eval_every: 500, or eval_schedule: {log: 6})"
            )
        if self.checkpoint_every is None:
            self.checkpoint_every = self.eval_every or max(1, self.steps // 10)
        return self


class Resources(Strict):
    cpu: float = Field(1.0, gt=0, description="CPU cores per trial, > 0 (fractions allowed)")
    gpu: float = Field(
        0.0,
        ge=0,
        description="GPUs per trial: 0, a fraction below 1 to share a GPU (e.g. 0.25), "
        "or a whole number",
    )
    custom: dict[str, Annotated[float, Field(ge=0)]] = Field(
        default_factory=dict,
        description="custom Ray resources per trial, e.g. {accelerator_a100: 1} (nodes declare "
        "them with `ray start --resources`)",
    )

    def request(self) -> dict[str, float]:
        """What one trial asks Ray for, in Ray's resource names."""
        return {"CPU": self.cpu, "GPU": self.gpu, **self.custom}

    @field_validator("gpu")
    @classmethod
    def _packable(cls, value: float) -> float:
        if value > 1 and not float(value).is_integer():
            raise ValueError(
                f"gpu {value} cannot be scheduled: Ray packs only fractions below one GPU; "
                f"use {math.floor(value)} or {math.ceil(value)}, or a fraction below 1"
            )
        return value


class Tracking(Strict):
    wandb: Literal["offline", "online", "disabled"] = Field(
        "offline", description="one of offline, online, disabled"
    )
    project: str = Field("bench", description="the wandb project name")
    entity: str | None = Field(None, description="the wandb entity (user or team), or omit it")


class Search(Strict):
    algorithm: Literal["grid", "random"] = Field(
        "grid",
        description="grid: every combination of the listed values; random: num_samples draws "
        "from the distributions in hparams ({loguniform: [lo, hi]}, {uniform: [lo, hi]}, "
        "{randint: [lo, hi]}, {choice: [...]}), crossed with any listed values",
    )
    num_samples: int = Field(1, ge=1, description="random draws per model entry, >= 1")
    seed: int = Field(0, ge=0, description="seed of the draws: the same seed, the same trials")

    @model_validator(mode="after")
    def _samples_need_random(self) -> Search:
        if self.algorithm == "grid" and self.num_samples != 1:
            raise ValueError(
                f"num_samples {self.num_samples} needs algorithm: random (a grid is enumerated, "
                "not sampled)"
            )
        return self


class Asha(Strict):
    metric: str = Field(description="a metric key the suite reports, e.g. fid or modes")
    mode: Literal["min", "max"] | None = Field(
        None, description="min or max; defaults to the metric's own direction"
    )
    grace_period: int = Field(
        ge=1, description="steps every trial runs before it can be stopped, from 1 up to `steps`"
    )
    reduction_factor: float = Field(
        3.0, gt=1, description="keep the best 1/reduction_factor at every rung, > 1"
    )


class Scheduler(Strict):
    asha: Asha | None = Field(
        None,
        description="stop weak trials early: {metric: fid, grace_period: 200, reduction_factor: 3}",
    )


# a non-empty list of distinct feature space names (checked against the registry when planned)
SpaceList = Annotated[
    list[str], Field(min_length=1), AfterValidator(lambda v: _distinct(v, "feature space"))
]
SPACES_HELP = (
    "a non-empty list of feature space names (see `bench list feature-spaces`), e.g. "
    "[inception, dinov2]: every metric of the features is measured in each, the first keeps the "
    "plain keys (fid) and the others' keys name their space (fid@dinov2)"
)


class DatasetRef(Strict):
    name: str = Field(description="a registered dataset name (see `bench list datasets`)")
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="dataset parameters as a mapping, e.g. {n_samples: 5000}",
    )
    feature_spaces: SpaceList | None = Field(
        None,
        description=SPACES_HELP + "; this dataset's own over the suite's `feature_spaces`",
    )

    @model_validator(mode="before")
    @classmethod
    def _bare_name(cls, data: Any) -> Any:
        return {"name": data} if isinstance(data, str) else data

    @property
    def label(self) -> str:
        """The name, plus the parameters given in the suite: 'ring8(n_samples=5000)'."""
        if not self.params:
            return self.name
        inner = ", ".join(f"{k}={short(v)}" for k, v in sorted(self.params.items(), key=str))
        return f"{self.name}({inner})"


class ModelRef(Strict):
    name: str = Field(description="a registered model name (see `bench list models`)")
    label: str | None = Field(
        None, min_length=1, description="the leaderboard row name; defaults to the model name"
    )
    hparams: dict[str, Any] = Field(
        default_factory=dict,
        description="hyperparameters as a mapping; a list is a grid axis, e.g. lr: [1e-4, 2e-4]",
    )
    datasets: list[str] | None = Field(
        None,
        min_length=1,
        description="the dataset labels this model runs on, e.g. [mnist5k]; omit it for all of "
        "the suite's datasets",
    )
    budget: dict[str, Any] | None = Field(
        None,
        description="this model's own budget keys over the suite's, e.g. {steps: 800}; "
        "checkpoint_every follows its eval_every unless given",
    )

    @property
    def row_label(self) -> str:
        return self.label or self.name

    def runs_on(self, dataset: DatasetRef) -> bool:
        """Whether this model runs on `dataset`, named in `datasets:` by its label or its name."""
        return self.datasets is None or bool({dataset.label, dataset.name} & set(self.datasets))


class Suite(Strict):
    name: str = Field(
        pattern=_NAME_PATTERN,
        description="it becomes a folder name: letters, digits, '_', '.' and '-', "
        "starting with a letter or digit",
    )
    description: str = Field("", description="free text")
    seeds: list[Annotated[int, Field(ge=0)]] = Field(
        min_length=1, description="a non-empty list of distinct whole numbers >= 0, e.g. [0, 1, 2]"
    )
    budget: Budget = Field(description="a mapping {steps: ..., eval_every: ..., eval_samples: ...}")
    resources: Resources = Field(
        default_factory=Resources, description="a mapping {cpu: ..., gpu: ...} per trial"
    )
    datasets: list[DatasetRef] = Field(
        min_length=1,
        description="a non-empty list of dataset names or {name: ..., params: {...}} mappings",
    )
    models: list[ModelRef] = Field(
        min_length=1,
        description="a non-empty list of {name: ..., label: ..., hparams: {...}} mappings",
    )
    metrics: list[str] | None = Field(
        None,
        min_length=1,
        description="a non-empty list of metric names; omit it to use every metric that applies",
    )
    feature_spaces: SpaceList | None = Field(
        None,
        description=SPACES_HELP + "; replaces each dataset's own space unless the dataset entry "
        "gives its own list",
    )
    tracking: Tracking = Field(
        default_factory=Tracking, description="a mapping {wandb: ..., project: ..., entity: ...}"
    )
    max_failures: int = Field(
        2,
        ge=0,
        description="retries (from the last checkpoint) of a trial whose worker or node died, a "
        "whole number >= 0; a trial whose model raises is never retried",
    )
    search: Search = Field(
        default_factory=Search,
        description="a mapping {algorithm: grid | random, num_samples: N, seed: S}",
    )
    scheduler: Scheduler = Field(
        default_factory=Scheduler,
        description="a mapping {asha: {metric: ..., grace_period: ..., reduction_factor: ...}}",
    )

    keep: KeepChoice = Field(
        "both",
        description="the model states each trial keeps in its folder: final (model_final.pt), "
        "best (model_best.pt, at its best evaluation by the ranking metric), both, or none (for "
        "big models); `bench sample` and `bench evaluate --run` load them",
    )

    published: Published | None = Field(
        None,
        description="a mapping {entries: [...], reference_checks: [...], deviations: [...], "
        "threshold: ...} of published numbers that `bench reproduce` compares with",
    )

    _source: Path | None = PrivateAttr(None)
    _locator: Locator | None = PrivateAttr(None)
    _trials: list[Trial] | None = PrivateAttr(None)  # planned once, by bench.suite.load.expand

    @property
    def trials(self) -> list[Trial]:
        """Every trial of the suite, as planned when it was loaded."""
        if self._trials is None:
            raise RuntimeError("this suite was not planned: build it with load_suite/parse_suite")
        return self._trials

    @property
    def source(self) -> Path | None:
        """The file this suite was loaded from, or None when it came from text."""
        return self._source

    @model_validator(mode="after")
    def _keep_in_budget(self) -> Suite:
        """Trials carry only their budget to the workers, so a `keep` other than the default
        rides in it (the default is left out: configs stay as they were before `keep` existed)."""
        if self.keep != "both" and self.budget.keep is None:
            self.budget.keep = self.keep
        return self

    @field_validator("seeds")
    @classmethod
    def _distinct_seeds(cls, seeds: list[int]) -> list[int]:
        return _distinct(seeds, "seed")

    @field_validator("metrics")
    @classmethod
    def _distinct_metrics(cls, names: list[str] | None) -> list[str] | None:
        return None if names is None else _distinct(names, "metric")

    def spaces_of(self, dataset: DatasetRef) -> tuple[str, ...] | None:
        """The feature spaces a dataset is measured in, the first the primary one: its entry's
        `feature_spaces`, else the suite's; None when neither lists any (the dataset's own)."""
        chosen = dataset.feature_spaces or self.feature_spaces
        return None if chosen is None else tuple(chosen)


def _distinct(values: list[Any], noun: str) -> list[Any]:
    repeated = sorted({v for v in values if values.count(v) > 1}, key=str)
    if repeated:
        listed = ", ".join(map(str, repeated))
        raise ValueError(f"{noun} {listed} is listed more than once; list each {noun} once")
    return values
