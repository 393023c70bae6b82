"""The Metric contract. The maths lives in plain functions of arrays/tensors (testable against
reference implementations in isolation); a registered `Metric` only adapts `EvalInputs` to one of
those functions and declares which way each reported value is better."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import torch

from bench.data.base import DataInfo, EvalSpec
from bench.direction import Direction
from bench.registry import Registry

if TYPE_CHECKING:
    from bench.models.base import GenerativeModel


@dataclass
class Features:
    """Samples mapped into a dataset's feature space."""

    features: torch.Tensor  # (N, d) float64
    logits: torch.Tensor | None = None  # (N, classes) when the space is a classifier
    modes: torch.Tensor | None = None  # (N,) int64 mode index per sample (class, digit triple)


@dataclass
class EvalInputs:
    """Everything one evaluation hands to every metric."""

    samples: torch.Tensor  # generated samples in data space, on CPU
    fake: Features  # the generated samples in feature space
    real: Features  # a reference subset of the *training* split in feature space (cached)
    spec: EvalSpec
    info: DataInfo
    heldout: Features | None = None  # the held-out split in feature space (memorization)
    # Tensors the evaluator's probes (bench/probes/) measured before the metrics ran, by key
    # (e.g. "codes": the model's codes of the held-out split, "factors": that split's factor
    # indices): the metrics named in `Metric.probes` get what they need here, never the model or
    # the data, so every metric stays a pure function of tensors. Empty when none were measured.
    probes: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass
class HistoryInputs:
    """What a metric over training (inputs = "history") gets, once, when the trial ends (also
    when it diverged): every logged row, and what the model says its logged keys mean."""

    history: list[dict[str, float]]  # one row per step: {"step": s, key: value, ...}
    roles: dict[str, str]  # logged key -> role ("loss", "grad_norm", "d_real", "d_fake", "other")
    d_probabilities: bool | None = None  # d_real / d_fake are probabilities (logistic losses)


class Metric:
    """Base class of registered metrics: `@METRICS.register("fid")` on the subclass."""

    description: ClassVar[str] = ""
    directions: ClassVar[dict[str, Direction]] = {}  # every key compute() returns -> better way
    # Column order when a suite does not list its metrics; the first metric a dataset has ranks
    # its leaderboard, so sample quality (FID) comes first.
    order: ClassVar[int] = 100
    # "samples": measured at every evaluation from generated samples (EvalInputs);
    # "history": measured once at the trial's end from its logged rows (HistoryInputs), also for
    # a trial that diverged, whose history metrics are part of its record. History metrics cost
    # nothing, so every trial gets those that apply, whatever the suite's `metrics:` list says.
    inputs: ClassVar[Literal["samples", "history"]] = "samples"
    # False for a metric measured only when a suite lists it: a use of the model (in-painting)
    # that costs far more than the quality metrics and is not what every leaderboard is about.
    by_default: ClassVar[bool] = True
    # The leaderboard table the keys go to: None for the ranked table of each dataset, else the
    # title of a table of their own (e.g. "Training stability").
    section: ClassVar[str | None] = None
    # True when a trial reports only those of `directions` that fit its model (stability: a GAN
    # has discriminator keys, an autoencoder not); tables then show only the keys present.
    keys_vary: ClassVar[bool] = False
    # The settings a value depends on besides the samples (e.g. prdc's k): recorded with every
    # number in the trial's protocol, so runs measured differently are never compared blindly.
    settings: ClassVar[dict[str, Any]] = {}
    # Names of the probes (bench.probes.PROBES) whose tensors `compute` reads from
    # `EvalInputs.probes`. A probe that calls the model needs an ability of it (a Protocol in
    # bench.models.abilities); the metric applies to a model class only when the class has every
    # one (bench.probes.unmeasurable), and without a model it is not computable.
    probes: ClassVar[tuple[str, ...]] = ()
    # True for a metric of the generated samples alone (IS, a diversity score): it never reads
    # `EvalInputs.real`, so a reference check measures it on one real split.
    reference_free: ClassVar[bool] = False
    # True for a metric of the feature-space embeddings alone (it reads `EvalInputs.fake`, `real`
    # or `heldout`, never the samples or probes): a trial that lists several `feature_spaces`
    # measures it in each, the further spaces' values under suffixed keys (`fid@dinov2`).
    per_space: ClassVar[bool] = False

    @property
    def over_history(self) -> bool:
        """Measured once from the training history at the trial's end, not from samples."""
        return self.inputs == "history"

    def keys_in(self, space: str | None = None) -> dict[str, Direction]:
        """The keys this metric reports in a trial's further feature space `space` (None: the
        primary one, its plain `directions`) -> direction; none when it is not `per_space`."""
        if space is None:
            return dict(self.directions)
        if not self.per_space:
            return {}
        return {space_key(key, space): d for key, d in self.directions.items()}

    def prepare(self, reference: Features) -> Any:
        """Work that depends on the reference set alone (its k-NN radii, its bins), done once per
        evaluator and handed back to every `compute` as `prepared`; None when there is none."""
        return None

    def applies(self, spec: EvalSpec, info: DataInfo) -> str | None:
        """Why this metric cannot be computed on such a dataset, or None when it can."""
        return None

    # What the metric measures without labels, for a metric that a conditional model (which
    # needs the label of everything it sees) cannot take: e.g. "in-painting completes unlabelled
    # images". None: labels are no obstacle.
    unlabelled: ClassVar[str | None] = None

    def applies_to_model(self, model: type[GenerativeModel]) -> str | None:
        """Why this metric cannot measure such a model for a reason other than a missing ability
        (those follow from `probes`), e.g. a conditional model that needs labels; or None."""
        if self.unlabelled is not None and getattr(model, "conditional", False):
            return f"{self.unlabelled}, and a conditional model needs labels"
        return None

    def compute(self, inputs: Any, prepared: Any = None) -> dict[str, float]:
        """The values of every key, from `EvalInputs` (or `HistoryInputs` for history metrics)."""
        raise NotImplementedError


class MetricInputError(ValueError):
    """Inputs a metric cannot be computed on (empty, mismatched, non-finite): names the problem."""


METRICS: Registry[Metric] = Registry("metric", Metric, instances=True)


# A metric's key in a trial's further feature space: `fid@dinov2` is FID in the space dinov2
# (the primary space keeps the plain key). No metric key or feature space name holds "@" (a test
# checks); it reads plainly in CSV headers, markdown tables and wandb keys, and slug() turns it
# into "_" in file names.
SPACE_MARK = "@"


def space_key(key: str, space: str | None) -> str:
    """`key` as measured in the further feature space `space` (None: the primary space)."""
    return key if space is None else f"{key}{SPACE_MARK}{space}"


def split_key(key: str) -> tuple[str, str | None]:
    """(the metric's own key, the further space it was measured in or None): the inverse of
    `space_key`, so every reader of a key resolves `fid@dinov2` as `fid`."""
    base, mark, space = key.partition(SPACE_MARK)
    return (base, space) if mark else (key, None)


def metric_of_key() -> dict[str, str]:
    """Every registered metric's output key -> the metric's name (plain keys: `split_key` first
    for a key of a further feature space)."""
    return {key: name for name, metric in METRICS for key in metric.directions}


def metric_keys(
    metric_names: Iterable[str], further: Sequence[str] = (), section: bool | None = None
) -> dict[str, Direction]:
    """Every key these metrics report -> direction, in display order: all their keys in the
    primary space, then those of the `per_space` metrics in each further feature space of the
    trial (`fid@dinov2`). `section`: True / False keeps only the keys of metrics with / without
    a table of their own (None: all)."""
    metrics = [METRICS.get(name) for name in metric_names]
    if section is not None:
        metrics = [m for m in metrics if (m.section is not None) == section]
    return {
        key: direction
        for space in (None, *further)
        for metric in metrics
        for key, direction in metric.keys_in(space).items()
    }


def ranking_keys(metric_names: Iterable[str], further: Sequence[str] = ()) -> list[tuple[str, str]]:
    """(key, "min" | "max") of every key the leaderboard's ranked table may show for these
    metrics, in its order: the first one a trial reports is the one it is ranked by (a key of
    the primary space: the further spaces' keys come after all of them). Sectioned keys
    (training stability) are never ranked."""
    return list(metric_keys(metric_names, further, section=False).items())
