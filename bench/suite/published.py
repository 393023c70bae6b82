"""The `published:` section of a suite: published numbers with their uncertainty and source, and
their checks against the suite's trials (every entry must name a row and a metric key the suite
measures), done when the suite is loaded. bench.reproduce compares a finished run with them."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bench.errors import SuiteError, dotted
from bench.registry import suggest
from bench.trial import Trial

DEFAULT_THRESHOLD = 2.0


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Source(_Strict):
    paper: str = Field(min_length=1, description="the publication, e.g. 'Lee & Town 2020'")
    table: str | None = Field(None, description="where in it, e.g. 'Table 2' or 'README'")
    url: str | None = Field(None, description="a link to the paper or table")

    def text(self) -> str:
        parts = [self.paper] + [p for p in (self.table, self.url) if p]
        return ", ".join(parts)


class PublishedValue(_Strict):
    """A published number and its uncertainty, in the paper's own units."""

    value: float = Field(description="the published value, as printed in the paper")
    spread: float | None = Field(
        None, ge=0, description="the published ± value (>= 0), or omit it when none is given"
    )
    spread_kind: Literal["std", "se"] | None = Field(
        None, description="what the ± is: 'std' (over runs) or 'se' (standard error)"
    )
    runs: int | None = Field(
        None,
        ge=1,
        description="how many runs the value averages, >= 1; a std without runs is used as the "
        "standard error itself (conservative: the widest it can be)",
    )
    scale: float = Field(
        1.0, gt=0, description="multiplier into bench's units, e.g. 0.01 for a percentage"
    )
    source: Source = Field(description="a mapping {paper: ..., table: ..., url: ...}")
    notes: str = Field("", description="how the paper measured it (samples, steps, ...)")

    @field_validator("value")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError(f"the published value must be a finite number, got {value}")
        return value

    @model_validator(mode="after")
    def _spread_is_complete(self) -> PublishedValue:
        if self.spread is not None and self.spread_kind is None:
            raise ValueError(
                "spread is given without spread_kind: say whether it is a standard deviation "
                "('std', needs runs) or a standard error ('se')"
            )
        if self.spread is None and self.spread_kind is not None:
            raise ValueError(f"spread_kind '{self.spread_kind}' is given without a spread value")
        return self

    @property
    def published(self) -> float:
        """The value in bench's units."""
        return self.value * self.scale

    @property
    def standard_error(self) -> float:
        """The published standard error in bench's units; 0 when the paper gives no spread."""
        if self.spread is None:
            return 0.0
        se = self.spread if self.spread_kind == "se" else self.spread / math.sqrt(self.runs or 1)
        return se * self.scale

    def spread_text(self) -> str:
        if self.spread is None:
            return "no spread given"
        runs = f", {self.runs} runs" if self.runs else (", runs not given" if self.std else "")
        return f"{self.spread_kind}{runs}"

    @property
    def std(self) -> bool:
        return self.spread_kind == "std"


class PublishedEntry(PublishedValue):
    """One published number for one leaderboard row of the suite."""

    model: str = Field(min_length=1, description="a model label of this suite")
    dataset: str = Field(
        min_length=1,
        description="a dataset label of this suite, or its dataset name when the suite uses "
        "that dataset once",
    )
    metric: str = Field(min_length=1, description="a metric output key, e.g. fid or modes")
    hparams: dict[str, Any] = Field(
        default_factory=dict,
        description="picks one grid point of the model entry, e.g. {packing: 2}; required when "
        "the entry has a grid",
    )
    setup: dict[str, Any] = Field(
        default_factory=dict,
        description="the paper's settings (steps, eval_samples or hyperparameters): any that "
        "differs from the suite is reported as a deviation",
    )


class ReferenceCheck(PublishedValue):
    """A published value that needs no model: a metric between two splits of a dataset, e.g.
    torch-fidelity's FID between 5,000 CIFAR-10 training and 5,000 test images."""

    dataset: str = Field(
        min_length=1, description="a dataset label of this suite, or its name if used once"
    )
    metric: Literal["fid", "is"] = Field(
        description="fid (training vs held-out subset) or is (Inception Score of the training "
        "subset)"
    )
    samples: int = Field(ge=2, description="images drawn from each split, e.g. 5000")
    draws: int = Field(
        5, ge=2, description="random subsets drawn; their spread gives bench's standard error"
    )


class Published(_Strict):
    """The `published:` section of a suite."""

    threshold: float = Field(
        DEFAULT_THRESHOLD, gt=0, description="|z| at or below which a value is reproduced"
    )
    deviations: list[str] = Field(
        default_factory=list,
        description="known differences between this suite and the papers' setups, as text",
    )
    entries: list[PublishedEntry] = Field(
        default_factory=list, description="a list of published values for this suite's models"
    )
    reference_checks: list[ReferenceCheck] = Field(
        default_factory=list, description="a list of model-free published values"
    )

    @model_validator(mode="after")
    def _not_empty(self) -> Published:
        if not self.entries and not self.reference_checks:
            raise ValueError("the published section lists no entries and no reference_checks")
        return self


# --- checks against the suite's trials (when the suite is loaded) ----------------------------


BUDGET_KEYS = ("steps", "eval_every", "eval_samples")  # setup keys compared with trial.budget


Locate = Callable[[tuple[str | int, ...]], str]


def metric_keys(trial: Trial) -> set[str]:
    """The output keys of the metrics a trial computes (Metric.directions), those of its further
    feature spaces included (`fid@dinov2`)."""
    from bench.metrics.base import metric_keys as keys_of

    return set(keys_of(trial.metrics, trial.further_spaces))


def check_published(
    published: Published, trials: Sequence[Trial], locate: Locate | None = None
) -> list[SuiteError]:
    """Every problem of the published section against the suite's expanded trials: unknown model,
    dataset or metric key, an hparams filter that picks no or several grid points, setup keys the
    suite cannot compare. `locate` turns a path such as ('published', 'entries', 0, 'model') into
    'file:line (...)'; the default prints the dotted path. Empty list: all good."""
    where = locate or dotted
    problems: list[SuiteError] = []
    for index, entry in enumerate(published.entries):
        path = ("published", "entries", index)
        problems += _check_entry(entry, trials, lambda *p, base=path: where((*base, *p)))
    datasets = sorted({t.dataset_label for t in trials})
    for index, check in enumerate(published.reference_checks):
        if resolve_dataset(check.dataset, trials) not in datasets:
            problems.append(
                SuiteError(
                    f"reference check names dataset '{check.dataset}', which this suite does "
                    f"not run.{suggest(check.dataset, datasets)}",
                    where=where(("published", "reference_checks", index, "dataset")),
                    fix=f"use a dataset label of this suite: {', '.join(datasets)}",
                )
            )
    return problems


def _check_entry(
    entry: PublishedEntry, trials: Sequence[Trial], where: Callable[..., str]
) -> list[SuiteError]:
    def problem(field_name: str, what: str, fix: str) -> list[SuiteError]:
        return [SuiteError(what, where=where(field_name), fix=fix)]

    models = sorted({t.model_label for t in trials})
    if entry.model not in models:
        return problem(
            "model",
            f"published entry names model '{entry.model}', which this suite does not run."
            + suggest(entry.model, models),
            f"use a model label of this suite: {', '.join(models)}",
        )
    own = [t for t in trials if t.model_label == entry.model]
    datasets = sorted({t.dataset_label for t in own})
    label = resolve_dataset(entry.dataset, own)
    if label not in datasets:
        return problem(
            "dataset",
            f"published entry names dataset '{entry.dataset}', which this suite does not run "
            f"model '{entry.model}' on.{suggest(entry.dataset, datasets)}",
            f"use a dataset label of this suite: {', '.join(datasets)} (a dataset's label "
            "includes the params given in the suite, e.g. ring8(n_samples=5000); the bare name "
            "is enough when the suite uses that dataset once)",
        )
    own = [t for t in own if t.dataset_label == label]
    found, problems = _grid_point(entry, own, where)
    if problems:
        return problems
    keys = sorted(set.union(*(metric_keys(t) for t in found)))
    if entry.metric not in keys:
        elsewhere = sorted({k for t in trials for k in metric_keys(t)})
        hint = " (other rows of the suite do report it)" if entry.metric in elsewhere else ""
        return problem(
            "metric",
            f"published entry names metric '{entry.metric}', which is not measured for "
            f"'{entry.model}' on '{entry.dataset}'{hint}.{suggest(entry.metric, keys)}",
            f"use a metric output key measured there: {', '.join(keys) or 'none'} (add the "
            "metric to the suite's `metrics:` if it is missing)",
        )
    return _check_setup(entry, found[0], where)


def _grid_point(
    entry: PublishedEntry, own: list[Trial], where: Callable[..., str]
) -> tuple[list[Trial], list[SuiteError]]:
    """The trials of the one grid point the entry targets, and the problems (one is empty)."""
    known = sorted({k for t in own for k in t.hparams})
    unknown = [k for k in entry.hparams if k not in known]
    if unknown:
        return [], [
            SuiteError(
                f"published entry filters on hyperparameter '{k}', which model '{entry.model}' "
                f"does not have.{suggest(k, known)}",
                where=where("hparams", k),
                fix=f"use one of: {', '.join(known)}",
            )
            for k in unknown
        ]
    chosen = [t for t in own if _matches(t.hparams, entry.hparams)]
    points = sorted({t.variant for t in chosen})
    if not points:
        available = sorted({t.variant for t in own})
        return [], [
            SuiteError(
                f"published entry's hparams {entry.hparams} match no grid point of model "
                f"'{entry.model}'",
                where=where("hparams"),
                fix=f"pick one of the grid points the suite runs: {'; '.join(available)}",
            )
        ]
    if len(points) > 1:
        return [], [
            SuiteError(
                f"published entry matches {len(points)} grid points of model '{entry.model}' "
                f"({'; '.join(points)}), so it is unclear which row it describes",
                where=where("hparams"),
                fix="add `hparams: {...}` with the grid values of the row the paper reports",
            )
        ]
    return chosen, []


def _check_setup(entry: PublishedEntry, trial: Trial, where: Callable[..., str]) -> list:
    known = sorted(set(BUDGET_KEYS) | set(trial.hparams))
    return [
        SuiteError(
            f"published entry's setup names '{k}', which is neither a budget field nor a "
            f"hyperparameter of model '{entry.model}'.{suggest(k, known)}",
            where=where("setup", k),
            fix=f"use one of: {', '.join(known)}; put other details in `notes`",
        )
        for k in entry.setup
        if k not in known
    ]


def _matches(hparams: dict, wanted: dict) -> bool:
    return all(_same(hparams.get(k), v) for k, v in wanted.items())


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON values: YAML's [1, 2] and a validated (1, 2) compare equal."""
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def deviations(published: Published, trials: Sequence[Trial]) -> list[str]:
    """The declared deviations, then every setup value of an entry that the suite runs
    differently (computed from the trials, never typed in)."""
    found = list(published.deviations)
    for index, entry in enumerate(published.entries):
        label = resolve_dataset(entry.dataset, trials)
        trial = next((t for t in trials if targets(entry, t, label)), None)
        if trial is None:
            continue
        for key, paper in entry.setup.items():
            ours = trial.budget.get(key) if key in BUDGET_KEYS else trial.hparams.get(key)
            if not _same(ours, paper):
                found.append(
                    f"entries[{index}] ({entry.model}, {entry.metric} from "
                    f"{entry.source.paper.split(',')[0]}): {key} is {ours} here, {paper} in "
                    "the paper's setup"
                )
    return found


def resolve_dataset(wanted: str, trials: Sequence[Trial]) -> str:
    """The dataset label an entry means: a label as given, or the one label of a dataset name
    the trials use once; anything else comes back unchanged (and matches nothing)."""
    if any(t.dataset_label == wanted for t in trials):
        return wanted
    labels = {t.dataset_label for t in trials if t.dataset == wanted}
    return labels.pop() if len(labels) == 1 else wanted


def targets(entry: PublishedEntry, trial: Trial, dataset_label: str) -> bool:
    """Whether the trial belongs to the row the entry describes (its dataset resolved first)."""
    return (
        trial.model_label == entry.model
        and trial.dataset_label == dataset_label
        and _matches(trial.hparams, entry.hparams)
    )
