"""Synthetic 2-D Gaussian mixtures with known modes: the classic mode-collapse testbeds."""

from __future__ import annotations

import math

import numpy as np
import torch
from pydantic import Field

from bench.data.base import DATASETS, DataInfo, Dataset, DatasetParams, DataSplits, EvalSpec, split


class MixtureParams(DatasetParams):
    n_samples: int = Field(20_000, ge=10, description="points drawn, before the held-out split")


class GaussianMixture2D(Dataset):
    """Equal-weight isotropic Gaussians around fixed centres; subclasses define the centres."""

    Params = MixtureParams
    std: float

    def centers(self) -> np.ndarray:
        raise NotImplementedError

    @property
    def info(self) -> DataInfo:
        return DataInfo(shape=(2,), kind="points", value_range=None)

    @property
    def eval_spec(self) -> EvalSpec:
        return EvalSpec(feature_space="raw", mode_centers=self.centers(), mode_std=self.std)

    def load(self) -> DataSplits:
        gen = torch.Generator().manual_seed(self.params.data_seed)
        centers = torch.as_tensor(self.centers(), dtype=torch.float32)
        which = torch.randint(len(centers), (self.params.n_samples,), generator=gen)
        noise = torch.randn(self.params.n_samples, 2, generator=gen) * self.std
        return split(centers[which] + noise, which, self.params)


@DATASETS.register("ring8")
class Ring8(GaussianMixture2D):
    description = "8 Gaussians on a circle of radius 1, std 0.01 (2-D, 8 known modes)"
    std = 0.01

    def centers(self) -> np.ndarray:
        angles = 2 * math.pi * np.arange(8) / 8
        return np.stack([np.cos(angles), np.sin(angles)], axis=1)


@DATASETS.register("grid25")
class Grid25(GaussianMixture2D):
    description = "5x5 grid of Gaussians, spacing 2, std 0.05 (2-D, 25 known modes)"
    std = 0.05

    def centers(self) -> np.ndarray:
        ticks = np.arange(-4.0, 5.0, 2.0)
        return np.array([(x, y) for x in ticks for y in ticks])
