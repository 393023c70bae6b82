"""The Model contract, checked for every registered model (a new model is tested by being
registered): one training step logs exactly the keys its `diagnostics` declares, and every loss
and gradient norm it declares has a training-stability statistic."""

from __future__ import annotations

from functools import cache

import pytest
import torch

from bench.data import DATASETS, DataInfo, DataSplits
from bench.metrics.stability import GRAD_KEYS, LOSS_KEYS
from bench.models import MODELS, Batch, GenerativeModel

# Tried in order: the first dataset a model can train on is the one it is checked on.
CANDIDATES = ("ring8", "digits", "mnist_pairs")


@cache
def data(name: str) -> tuple[DataInfo, DataSplits]:
    dataset = DATASETS.get(name)()
    return dataset.info, dataset.load()


def first_step(name: str) -> tuple[GenerativeModel, dict[str, float]]:
    cls = MODELS.get(name)
    dataset = next(d for d in CANDIDATES if cls.incompatibility(data(d)[0]) is None)
    info, splits = data(dataset)
    hparams = {"latent_dim": 2} if name == "pca" and info.kind == "points" else {}
    torch.manual_seed(0)
    model = cls(cls.HParams(**hparams), info)
    labels = None if splits.train_labels is None else splits.train_labels[:16]
    return model, model.train_step(Batch(splits.train[:16], labels))


@pytest.mark.parametrize("name", MODELS.names())
def test_a_step_logs_exactly_the_declared_diagnostics(name: str) -> None:
    model, logs = first_step(name)
    assert set(logs) == set(model.diagnostics), f"{name} logs {sorted(logs)}"
    assert all(isinstance(v, float) for v in logs.values())
    assert all(d.meaning for d in model.diagnostics.values())


@pytest.mark.parametrize("name", MODELS.names())
def test_declared_losses_and_gradients_have_stability_statistics(name: str) -> None:
    roles = {key: d.role for key, d in MODELS.get(name).diagnostics.items()}
    assert all(k in LOSS_KEYS for k, role in roles.items() if role == "loss")
    assert all(k in GRAD_KEYS for k, role in roles.items() if role == "grad_norm")
    assert (
        sum(role == "d_real" for role in roles.values())
        == sum(role == "d_fake" for role in roles.values())
        <= 1
    )
