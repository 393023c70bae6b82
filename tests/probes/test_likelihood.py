"""The log_likelihoods probe on every model family with a density: one finite log p(x) per
held-out point (the first LIKELIHOOD_IMAGES), the same at every evaluation, and the kind of value
each model declares; the conditional VAE is refused by the metric."""

from __future__ import annotations

import pytest
import torch

from bench.data import DATASETS
from bench.metrics import METRICS
from bench.metrics.likelihood import IWAE_K, LIKELIHOOD_IMAGES
from bench.models import MODELS
from bench.models.vae import DENSITY_K
from bench.probes import PROBES, unmeasurable
from tests.models.builders import build, data

CASES = [
    ("realnvp", "ring8", {"transforms": 2, "hidden": 8}, "exact"),
    ("maf", "digits", {"transforms": 1, "hidden": 16}, "bound"),
    ("pixelcnn", "digits", {"channels": 4, "layers": 1}, "exact"),
    ("vae", "ring8", {}, f"k={DENSITY_K}"),
    ("ddpm", "ring8", {"timesteps": 20, "sample_steps": 5}, "bound"),
]


@pytest.mark.parametrize(("model", "dataset", "hparams", "kind"), CASES)
def test_probe_gives_one_finite_repeatable_log_likelihood_per_point(
    model: str, dataset: str, hparams: dict, kind: str
) -> None:
    m = build(model, dataset, **hparams)
    spec, splits = DATASETS.get(dataset)().eval_spec, data(dataset)[1]
    probe = PROBES.get("log_likelihoods")
    first = probe.run(m, splits, spec)["log_likelihood"]
    assert first.shape == (min(LIKELIHOOD_IMAGES, len(splits.heldout)),)
    assert torch.isfinite(first).all()
    assert torch.equal(first, probe.run(m, splits, spec)["log_likelihood"])
    assert kind in m.likelihood_kind()


def test_the_metric_records_the_vae_bound_k_and_refuses_conditional_models() -> None:
    assert IWAE_K == DENSITY_K
    assert "labels" in unmeasurable(METRICS.get("likelihood"), MODELS.get("cvae"))
    assert unmeasurable(METRICS.get("likelihood"), MODELS.get("ddpm")) is None


def test_digits_and_mnist_record_their_level_counts() -> None:
    assert DATASETS.get("digits")().info.levels == 17
    assert DATASETS.get("mnist5k")().info.levels == 256
    assert DATASETS.get("ring8")().info.levels is None
