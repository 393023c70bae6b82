"""Suite files: schema, YAML source with line numbers, planning into trials, loading (once).

`load_suite(path)` / `parse_suite(text)` return a validated `Suite` whose `trials` are planned."""

from bench.suite.load import expand, load_suite, parse_suite
from bench.suite.plan import MAX_TRIALS_WITHOUT_CONFIRM, metrics_in_order, reported_keys
from bench.suite.schema import Budget, DatasetRef, ModelRef, Resources, Suite
from bench.suite.search import DISTRIBUTIONS
from bench.trial import Trial

__all__ = [
    "DISTRIBUTIONS",
    "MAX_TRIALS_WITHOUT_CONFIRM",
    "Budget",
    "DatasetRef",
    "ModelRef",
    "Resources",
    "Suite",
    "Trial",
    "expand",
    "load_suite",
    "metrics_in_order",
    "parse_suite",
    "reported_keys",
]
