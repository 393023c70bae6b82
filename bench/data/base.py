"""The Dataset contract: static facts (`DataInfo`, `EvalSpec`) known without loading anything, and
`load()` returning train / held-out tensors. Every dataset family is one module that registers
its classes in `DATASETS`."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from bench.registry import Registry


@dataclass(frozen=True)
class DataInfo:
    """What a model needs to know to handle a dataset, available before any data is loaded."""

    shape: tuple[int, ...]  # one sample in data space: (2,) for points, (C, H, W) for images
    kind: Literal["points", "image"]
    value_range: tuple[float, float] | None  # None: unbounded real values
    num_classes: int | None = None  # labels are available when set
    # Paired-domain images: channel 0 is domain A, channel 1 its image under this named transform
    # (a key of bench.data.paired.TRANSFORMS). None for every other dataset.
    pairing: str | None = None
    # Known factors of variation (procedural data such as `shapes`): their names and how many
    # values each takes; DataSplits then carries each point's factor indices. None elsewhere.
    factor_names: tuple[str, ...] | None = None
    factor_sizes: tuple[int, ...] | None = None
    # Grey levels of image pixels, on the grid k / (levels - 1) of the value range (17 for sklearn
    # digits, 256 for 8-bit images): what flows dequantize with, PixelCNN's categorical and the
    # likelihood metric's discretization. None: continuous values.
    levels: int | None = None

    @property
    def dim(self) -> int:
        return int(np.prod(self.shape))


@dataclass(frozen=True)
class EvalSpec:
    """How samples of this dataset are measured."""

    feature_space: str  # a name in bench.metrics.features.FEATURE_SPACES
    mode_centers: np.ndarray | None = field(default=None, compare=False)  # known mixture modes
    mode_std: float | None = None  # std of each mixture component
    num_modes: int | None = None  # modes the feature space assigns samples to (Features.modes)
    anomaly_class: int | None = None  # class left out of training (anomaly detection)


@dataclass
class DataSplits:
    """Loaded data: float tensors in data space (N, *info.shape), labels when the data has them,
    and (N, K) int64 factor indices when it has known factors (`DataInfo.factor_names`)."""

    train: torch.Tensor
    heldout: torch.Tensor
    train_labels: torch.Tensor | None = None
    heldout_labels: torch.Tensor | None = None
    train_factors: torch.Tensor | None = None
    heldout_factors: torch.Tensor | None = None


class DatasetParams(BaseModel):
    """Parameters every dataset accepts; families add their own fields."""

    model_config = ConfigDict(extra="forbid")
    heldout_fraction: float = Field(0.2, gt=0.0, lt=1.0, description="share kept out of training")
    data_seed: int = Field(0, description="seed of the data draw and the split, not of the trial")


class Dataset:
    """Base class of registered datasets. Construct with validated params; loading is lazy."""

    description: ClassVar[str] = ""
    Params: ClassVar[type[DatasetParams]] = DatasetParams

    def __init__(self, params: DatasetParams | None = None) -> None:
        self.params = params if params is not None else self.Params()

    @property
    def info(self) -> DataInfo:
        raise NotImplementedError

    @property
    def eval_spec(self) -> EvalSpec:
        raise NotImplementedError

    def load(self) -> DataSplits:
        raise NotImplementedError

    def feature_basis(self) -> Dataset:
        """The dataset whose training split the feature space is fitted on: this one, unless a
        parameter only thins the training split (e.g. train_size), whose data would give a worse
        space; then the full one, so every training-set size is measured in the same space."""
        return self

    def fingerprint(self, name: str) -> str:
        """Stable id of (dataset, params): keys on-disk caches of anything derived from the data."""
        blob = json.dumps({"name": name, **self.params.model_dump()}, sort_keys=True)
        return f"{name}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"


DATASETS: Registry[type[Dataset]] = Registry("dataset", Dataset)


def split(
    x: torch.Tensor,
    y: torch.Tensor | None,
    params: DatasetParams,
    *,
    factors: torch.Tensor | None = None,
) -> DataSplits:
    """Shuffle with the data seed and cut off the held-out share; labels and factors (rows
    aligned with `x`) follow their points."""
    gen = torch.Generator().manual_seed(params.data_seed)
    order = torch.randperm(len(x), generator=gen)
    n_held = max(1, int(round(len(x) * params.heldout_fraction)))
    held, train = order[:n_held], order[n_held:]

    def take(t: torch.Tensor | None, rows: torch.Tensor) -> torch.Tensor | None:
        return None if t is None else t[rows].contiguous()

    return DataSplits(
        train=x[train].contiguous(),
        heldout=x[held].contiguous(),
        train_labels=take(y, train),
        heldout_labels=take(y, held),
        train_factors=take(factors, train),
        heldout_factors=take(factors, held),
    )
