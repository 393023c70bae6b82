"""The Metric contract's shared rules."""

from __future__ import annotations

import pytest

from bench.metrics import METRICS
from bench.models import MODELS

UNLABELLED = [name for name, metric in METRICS if metric.unlabelled is not None]


def test_the_metrics_of_unlabelled_data_are_declared():
    assert {"anomaly", "inpainting", "path_length", "likelihood", "ood"} <= set(UNLABELLED)


@pytest.mark.parametrize("name", UNLABELLED)
def test_a_metric_of_unlabelled_data_refuses_a_conditional_model_saying_why(name: str):
    metric = METRICS.get(name)
    reason = metric.applies_to_model(MODELS.get("cvae"))
    assert reason == f"{metric.unlabelled}, and a conditional model needs labels"
    assert metric.applies_to_model(MODELS.get("vae")) is None  # the same model, unconditional
