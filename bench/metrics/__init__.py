"""Metrics and feature spaces: importing this package registers every metric in `METRICS` and
every feature space in `FEATURE_SPACES` (and "bench-classifier" with torch-fidelity)."""

from bench.metrics import features, fidelity, modes  # noqa: F401  (registration side effects)
from bench.metrics.base import METRICS, EvalInputs, Features, Metric, MetricInputError
from bench.metrics.features import FEATURE_SPACES, FeatureSpace
from bench.metrics.fidelity import frechet_distance
from bench.metrics.modes import mode_coverage

__all__ = [
    "FEATURE_SPACES",
    "METRICS",
    "EvalInputs",
    "FeatureSpace",
    "Features",
    "Metric",
    "MetricInputError",
    "frechet_distance",
    "mode_coverage",
]
