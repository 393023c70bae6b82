"""Planning: every name of a suite resolved against the registries (datasets, models, metrics,
scheduler), all problems collected with their file:line, and the trials expanded: model entries x
grid points x datasets (each entry's own) x seeds, with each entry's own budget."""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import Any

from pydantic import ValidationError

from bench.errors import BenchError
from bench.plugins import load_registries
from bench.registry import suggest
from bench.suite.explain import Problems, explain, without_implied_missing
from bench.suite.grid import Grid, plain
from bench.suite.schema import SCHEDULE_KEYS, Budget, DatasetRef, ModelRef, Suite
from bench.suite.source import Locator, YamlPath, combined
from bench.trial import Trial, slug, variant_hash

MAX_TRIALS_WITHOUT_CONFIRM: int = 256


@dataclass
class PlannedData:
    index: int
    ref: DatasetRef
    params: dict
    info: Any  # DataInfo
    spec: Any  # EvalSpec, its feature_space the primary one of `spaces`
    spaces: tuple[str, ...] | None = None  # the suite's `feature_spaces` for it, when given

    def further_specs(self) -> list[Any]:
        """The EvalSpec of each feature space it is measured in after the primary one."""
        return [replace(self.spec, feature_space=space) for space in (self.spaces or ())[1:]]


@dataclass
class PlannedEntry:
    index: int
    ref: ModelRef
    points: list[tuple[dict, dict]]  # (validated hparams, the varying part of them)
    budget: dict  # the suite's budget with the model's own keys over it, validated


class Planner(Problems):
    """Resolves every name of a suite against the registries, collecting all problems."""

    def __init__(self, suite: Suite, locator: Locator) -> None:
        super().__init__(locator)
        self.suite = suite

    def trials(self) -> list[Trial]:
        load_registries()
        data = [d for d in map(self.dataset, enumerate(self.suite.datasets)) if d is not None]
        all_data = len(data) == len(self.suite.datasets)
        metrics = self.metrics(data, check_use=all_data)
        entries = [e for e in map(self.model, enumerate(self.suite.models)) if e is not None]
        for entry in entries:
            self.known_datasets(entry)
            self.compatibility(entry, [d for d in data if entry.ref.runs_on(d.ref)])
        self.distinct_labels()
        self.scheduler(data, metrics)
        if self.errors:
            raise combined(self.errors)
        trials = [
            self.trial(entry, hparams, grid, d, seed, self.for_model(entry, metrics[d.index]))
            for entry in entries
            for hparams, grid in entry.points
            for d in data
            if entry.ref.runs_on(d.ref)
            for seed in self.suite.seeds
        ]
        self.distinct_ids(trials)
        return trials

    def scheduler(self, data: list[PlannedData], metrics: dict[int, tuple[str, ...]]) -> None:
        """ASHA needs a metric key that every trial reports and a grace period within budget."""
        asha = self.suite.scheduler.asha
        if asha is None:
            return
        path: YamlPath = ("scheduler", "asha")
        if asha.grace_period > self.suite.budget.steps:
            self.fail(
                f"grace_period ({asha.grace_period}) is larger than budget.steps "
                f"({self.suite.budget.steps}), so no trial could ever be stopped",
                (*path, "grace_period"),
                f"use a grace_period of at most {self.suite.budget.steps}",
            )
        keys = reported_keys(self.suite)
        if not data or asha.metric in keys:
            return
        self.fail(
            f"scheduler metric '{asha.metric}' is not reported by this suite's metrics."
            f"{suggest(asha.metric, list(keys))}",
            (*path, "metric"),
            f"use one of: {', '.join(keys)}" if keys else "add a metric to the suite",
        )

    def lookup(self, registry: Any, name: str, path: YamlPath) -> Any:
        """The registry's entry, or None with an error recorded at `path` ("did you mean")."""
        try:
            return registry.get(name)
        except BenchError as exc:
            self.fail(exc.what, path, exc.fix)
            return None

    def dataset(self, item: tuple[int, DatasetRef]) -> PlannedData | None:
        from bench.data.base import DATASETS

        index, ref = item
        cls = self.lookup(DATASETS, ref.name, ("datasets", index, "name"))
        if cls is None:
            return None
        try:
            params = cls.Params.model_validate(ref.params)
        except ValidationError as exc:
            subject = f" of dataset '{ref.name}'"
            for err in without_implied_missing(exc.errors()):
                path = ("datasets", index, "params", *err["loc"])
                self.errors.append(
                    explain(err, cls.Params, path, self.locator, "dataset parameter", subject)
                )
            return None
        built = cls(params)
        spaces = self.feature_spaces(index, ref, built.info)
        spec = built.eval_spec if not spaces else replace(built.eval_spec, feature_space=spaces[0])
        return PlannedData(index, ref, plain(params.model_dump()), built.info, spec, spaces)

    def feature_spaces(self, index: int, ref: DatasetRef, info: Any) -> tuple[str, ...] | None:
        """The dataset's `feature_spaces` (its entry's, else the suite's), each a registered
        space that can measure it; problems are recorded at the list that named them (and None
        returned, so the rest of the suite is checked in the dataset's own space)."""
        from bench.metrics.features import FEATURE_SPACES

        spaces = self.suite.spaces_of(ref)
        if spaces is None:
            return None
        at: YamlPath = ("datasets", index) if ref.feature_spaces else ()
        before = len(self.errors)
        for i, name in enumerate(spaces):
            path = (*at, "feature_spaces", i)
            space = self.lookup(FEATURE_SPACES, name, path)
            reason = None if space is None else space.applies(info)
            if reason is not None:
                other = "" if at else f", or give '{ref.label}' a feature_spaces list of its own"
                self.fail(
                    f"feature space '{name}' cannot measure dataset '{ref.label}': {reason}",
                    path,
                    f"remove '{name}' from this list{other}",
                )
        return spaces if len(self.errors) == before else None

    def metrics(self, data: list[PlannedData], check_use: bool) -> dict[int, tuple[str, ...]]:
        """Per dataset index, the metrics that apply to it, in suite (or registry) order."""
        from bench.metrics.base import METRICS

        chosen = self.suite.metrics
        names = metric_names(chosen)
        found = [
            (i, name, self.lookup(METRICS, name, ("metrics", i))) for i, name in enumerate(names)
        ]
        known = [(i, name, metric) for i, name, metric in found if metric is not None]
        if chosen is not None and check_use:
            for index, name, metric in known:
                self.metric_used(index, name, metric, data)
        return {
            d.index: tuple(name for _, name, m in known if applies_in_some(m, d) is None)
            for d in data
        }

    @staticmethod
    def for_model(entry: PlannedEntry, names: tuple[str, ...]) -> tuple[str, ...]:
        """The metrics among `names` that can measure this entry's model (the abilities their
        probes need, and their own conditions: the evaluator's rule, bench.probes)."""
        from bench.metrics.base import METRICS
        from bench.models.base import MODELS
        from bench.probes import unmeasurable

        cls = MODELS.get(entry.ref.name)
        return tuple(n for n in names if unmeasurable(METRICS.get(n), cls) is None)

    def metric_used(self, index: int, name: str, metric: Any, data: list[PlannedData]) -> None:
        reasons = [(d.ref.label, applies_in_some(metric, d)) for d in data]
        if all(reason is not None for _, reason in reasons):
            why = "; ".join(f"{label}: {reason}" for label, reason in reasons)
            self.fail(
                f"metric '{name}' applies to none of this suite's datasets ({why})",
                ("metrics", index),
                f"remove '{name}' from metrics, or add a dataset it applies to "
                "(omit `metrics:` to use every metric that applies)",
            )

    def model(self, item: tuple[int, ModelRef]) -> PlannedEntry | None:
        from bench.models.base import MODELS

        index, ref = item
        cls = self.lookup(MODELS, ref.name, ("models", index, "name"))
        if cls is None:
            return None
        points = Grid(self, self.suite.search, index, ref, cls.HParams).points()
        budget = self.budget_for(index, ref)
        return PlannedEntry(index, ref, points, budget) if points and budget else None

    def budget_for(self, index: int, ref: ModelRef) -> dict | None:
        """The suite's budget with the model's `budget:` keys over it, or None (errors noted)."""
        base = self.suite.budget.model_dump(exclude_none=True)
        override = ref.budget or {}
        if {"steps", *SCHEDULE_KEYS} & override.keys() and "checkpoint_every" not in override:
            base.pop("checkpoint_every")  # follows the model's own schedule
        if set(SCHEDULE_KEYS) & override.keys():  # the model's schedule replaces the suite's
            base = {k: v for k, v in base.items() if k not in SCHEDULE_KEYS}
        if "reference_samples" in override:
            self.fail(
                f"model '{ref.row_label}' sets reference_samples, but every model on a dataset "
                "is measured against the same reference set",
                ("models", index, "budget", "reference_samples"),
                "set reference_samples in the suite's budget, not a model's",
            )
            return None
        try:
            budget = Budget.model_validate({**base, **override}).model_dump(exclude_none=True)
        except ValidationError as exc:
            subject = f" of model '{ref.row_label}'"
            for err in exc.errors():
                path = ("models", index, "budget", *err["loc"])
                self.errors.append(explain(err, Budget, path, self.locator, "budget key", subject))
            return None
        budget["reference_samples"] = reference_samples(self.suite)
        return budget

    def known_datasets(self, entry: PlannedEntry) -> None:
        """A model's `datasets:` may only name datasets of the suite."""
        labels = [d.label for d in self.suite.datasets]
        names = labels + [d.name for d in self.suite.datasets]
        for i, label in enumerate(entry.ref.datasets or []):
            if label not in names:
                self.fail(
                    f"model '{entry.ref.row_label}' names dataset '{label}', which is not in "
                    f"this suite's datasets.{suggest(label, labels)}",
                    ("models", entry.index, "datasets", i),
                    f"use one of {', '.join(labels)}, or add '{label}' to the suite's datasets",
                )

    def compatibility(self, entry: PlannedEntry, data: list[PlannedData]) -> None:
        from bench.models.base import MODELS

        cls = MODELS.get(entry.ref.name)
        for d in data:
            reason = cls.incompatibility(d.info)
            if reason is not None:
                self.fail(
                    f"model '{entry.ref.name}' cannot train on dataset '{d.ref.label}': {reason}",
                    ("models", entry.index),
                    "give this model a `datasets:` list of the datasets it suits, or remove "
                    f"'{d.ref.label}' from the suite",
                )

    def distinct_labels(self) -> None:
        for index, repeated, first in repeats([m.row_label for m in self.suite.models]):
            self.fail(
                f"models[{first}] and models[{index}] are both labelled '{repeated}', so their "
                "leaderboard rows would merge",
                ("models", index),
                f"give one of them its own `label:`, e.g. label: {repeated}_{index}",
            )
        for index, repeated, first in repeats([d.label for d in self.suite.datasets]):
            self.fail(
                f"dataset '{repeated}' is listed twice (datasets[{first}] and datasets[{index}])",
                ("datasets", index),
                "delete one of them, or give them different params",
            )

    def distinct_ids(self, trials: list[Trial]) -> None:
        """A last guard: labels that differ only in characters a folder name cannot hold."""
        first: dict[str, Trial] = {}
        for trial in (t for t in trials if t.seed == self.suite.seeds[0]):
            other = first.setdefault(trial.trial_id, trial)
            if other is not trial:
                self.fail(
                    f"two trials would share the folder '{trial.trial_id}' (models "
                    f"'{other.model_label}' and '{trial.model_label}' on '{trial.dataset_label}')",
                    ("models",),
                    "give the model entries labels that differ in letters or digits",
                )
        if self.errors:
            raise combined(self.errors)

    def trial(
        self,
        entry: PlannedEntry,
        hparams: dict,
        grid: dict,
        d: PlannedData,
        seed: int,
        metrics: tuple,
    ) -> Trial:
        ref = entry.ref
        variant = variant_hash(ref.name, hparams, d.ref.name, d.params)
        trial_id = "-".join((slug(ref.row_label), slug(d.ref.label), variant, f"s{seed}"))
        return Trial(
            trial_id=trial_id,
            suite=self.suite.name,
            model=ref.name,
            model_label=ref.row_label,
            dataset=d.ref.name,
            dataset_label=d.ref.label,
            dataset_params=copy.deepcopy(d.params),
            hparams=copy.deepcopy(hparams),
            grid=copy.deepcopy(grid),
            seed=seed,
            metrics=metrics,
            budget=copy.deepcopy(entry.budget),
            resources=self.suite.resources.model_dump(),
            feature_spaces=d.spaces,
        )


def applies_in_some(metric: Any, d: PlannedData) -> str | None:
    """Why `metric` cannot be computed on the planned dataset in its primary space nor (for a
    metric of the features) in any further one; None when it can in one of them."""
    reason = metric.applies(d.spec, d.info)
    if reason is None or not metric.per_space:
        return reason
    further = (metric.applies(spec, d.info) for spec in d.further_specs())
    return next((r for r in further if r is None), reason)


def reported_keys(suite: Suite) -> dict[str, str]:
    """Metric key -> direction ("min" | "max") of every key the suite's metrics report, those
    of its further feature spaces (`fid@dinov2`) included."""
    from bench.metrics.base import METRICS, metric_keys

    load_registries()
    names = [name for name in metric_names(suite.metrics) if name in METRICS.names()]
    lists = [suite.spaces_of(d) or () for d in suite.datasets]
    further = list(dict.fromkeys(space for spaces in lists for space in spaces[1:]))
    return metric_keys(names, further)


def repeats(labels: list[str]) -> list[tuple[int, str, int]]:
    """(index, label, index of its first occurrence) for every repeated label."""
    first: dict[str, int] = {}
    found = []
    for index, label in enumerate(labels):
        if first.setdefault(label, index) != index:
            found.append((index, label, first[label]))
    return found


def metrics_in_order() -> list[str]:
    """Every registered metric, in display order (Metric.order, then name)."""
    from bench.metrics.base import METRICS

    return sorted(METRICS.names(), key=lambda name: (METRICS.get(name).order, name))


def metric_names(chosen: list[str] | None) -> list[str]:
    """The metrics a suite measures: those it lists (when it lists none, every registered one
    but the opt-in ones, Metric.by_default False), plus every metric over training
    (Metric.inputs "history"), which costs nothing."""
    from bench.metrics.base import METRICS

    if chosen is None:
        return [n for n in metrics_in_order() if METRICS.get(n).by_default]
    over_training = [n for n in metrics_in_order() if METRICS.get(n).over_history]
    return list(chosen) + [n for n in over_training if n not in chosen]


def reference_samples(suite: Suite) -> int:
    """The size of every dataset's reference set (the real training points sample metrics
    compare with): the suite's budget.reference_samples, else its eval_samples. Every trial's
    budget carries it, so its config.json says what it was measured against."""
    return suite.budget.reference_samples or suite.budget.eval_samples
