"""Builders the model tests share: datasets loaded once per process, a model seeded and built for
a dataset, endless random minibatches on their own generator (so they never move the model's
random stream), and a few training steps."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

import torch

from bench.data import DATASETS, DataInfo, DataSplits
from bench.models import MODELS, Batch, GenerativeModel


@cache
def data(name: str, **params: object) -> tuple[DataInfo, DataSplits]:
    cls = DATASETS.get(name)
    dataset = cls(cls.Params(**params))
    return dataset.info, dataset.load()


def fixed(seed: int = 123) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def batches(
    x: torch.Tensor, size: int = 64, seed: int = 0, labels: torch.Tensor | None = None
) -> Iterator[Batch]:
    """Endless minibatches drawn with replacement from `x` (and the matching `labels`)."""
    gen = torch.Generator().manual_seed(seed)
    while True:
        idx = torch.randint(len(x), (size,), generator=gen)
        yield Batch(x[idx], None if labels is None else labels[idx])


def build(model: str, dataset: str, seed: int = 0, **hparams: object) -> GenerativeModel:
    torch.manual_seed(seed)
    cls = MODELS.get(model)
    return cls(cls.HParams(**hparams), data(dataset)[0])


def train(
    m: GenerativeModel,
    dataset: str,
    steps: int,
    size: int = 64,
    seed: int = 0,
    labels: bool = False,
) -> list[dict[str, float]]:
    """`steps` training steps on `dataset`'s training split; `labels` passes the class labels
    of a labelled dataset along."""
    info, splits = data(dataset)
    y = splits.train_labels if labels and info.num_classes else None
    it = batches(splits.train, size, seed, y)
    return [m.train_step(next(it)) for _ in range(steps)]
