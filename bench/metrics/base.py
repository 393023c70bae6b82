"""The Metric contract. The maths lives in plain functions of arrays/tensors (testable against
reference implementations in isolation); a registered `Metric` only adapts `EvalInputs` to one of
those functions and declares which way each reported value is better."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import torch

from bench.data.base import DataInfo, EvalSpec
from bench.registry import Registry

if TYPE_CHECKING:
    from bench.data.base import DataSplits
    from bench.models.base import GenerativeModel

Direction = Literal["min", "max"]


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
    model: GenerativeModel | None = None  # for model-specific measurements (reconstruction...)
    data: DataSplits | None = None  # the dataset in data space (held-out reconstruction...)
    # Tensors the evaluator measured with the model before the metrics ran, by name (e.g. "codes":
    # posterior means of the held-out split, "factors": its factor indices), so that metrics
    # needing the model's view stay pure functions of tensors. Empty when none were measured.
    probes: dict[str, torch.Tensor] = field(default_factory=dict)


class Metric:
    """Base class of registered metrics: `@METRICS.register("fid")` on the subclass."""

    description: ClassVar[str] = ""
    directions: ClassVar[dict[str, Direction]] = {}  # every key compute() returns -> better way
    # Column order when a suite does not list its metrics; the first metric a dataset has ranks
    # its leaderboard, so sample quality (FID) comes first.
    order: ClassVar[int] = 100

    def prepare(self, reference: Features) -> Any:
        """Work that depends on the reference set alone (its k-NN radii, its bins), done once per
        evaluator and handed back to every `compute` as `prepared`; None when there is none."""
        return None

    def applies(self, spec: EvalSpec, info: DataInfo) -> str | None:
        """Why this metric cannot be computed on such a dataset, or None when it can."""
        return None

    def applies_to_model(self, model: type[GenerativeModel]) -> str | None:
        """Why this metric cannot measure such a model (e.g. reconstruction of a GAN), or None."""
        return None

    def compute(self, inputs: EvalInputs, prepared: Any = None) -> dict[str, float]:
        raise NotImplementedError


class MetricInputError(ValueError):
    """Inputs a metric cannot be computed on (empty, mismatched, non-finite): names the problem."""


METRICS: Registry[Metric] = Registry("metric", Metric, instances=True)
