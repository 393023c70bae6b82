"""Metrics and feature spaces: importing this package registers every metric in `METRICS` and
every feature space in `FEATURE_SPACES` (the classifier space registers "bench-classifier" with
torch-fidelity when it is first fitted). Every module of the package is imported, so a new metric
is one new file.

`memorization` and `stability` name both a module and its main function; the package exports
the function (import the module's other names with `from bench.metrics.stability import ...`)."""

from bench.metrics.base import METRICS, EvalInputs, Features, Metric, MetricInputError
from bench.metrics.diversity import jensen_shannon, ndb, prdc
from bench.metrics.features import FEATURE_SPACES, FeatureSpace, inception_weights_path
from bench.metrics.fidelity import frechet_distance, inception_score, kid
from bench.metrics.memorization import data_copying_ct, mann_whitney_z, memorization
from bench.metrics.modes import class_mode_coverage, mode_coverage
from bench.metrics.neighbours import ball_counts, k_nearest, kth_neighbour_distances, nearest
from bench.metrics.stability import STABILITY_DIRECTIONS, stability
from bench.registry import import_submodules

import_submodules(__name__)

__all__ = [
    "FEATURE_SPACES",
    "METRICS",
    "STABILITY_DIRECTIONS",
    "EvalInputs",
    "FeatureSpace",
    "Features",
    "Metric",
    "MetricInputError",
    "ball_counts",
    "class_mode_coverage",
    "data_copying_ct",
    "frechet_distance",
    "inception_score",
    "inception_weights_path",
    "jensen_shannon",
    "k_nearest",
    "kid",
    "kth_neighbour_distances",
    "mann_whitney_z",
    "memorization",
    "mode_coverage",
    "ndb",
    "nearest",
    "prdc",
    "stability",
]
