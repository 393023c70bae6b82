"""Samples generated elsewhere, measured exactly like a trial's: `bench evaluate --real R --fake F`.

The real side is a registered dataset (its train/held-out split and feature space, as in a suite)
or a file/folder of real samples; the fake side is a file/folder. Both go through the same
`Evaluator.measure` a trial uses, so the numbers are comparable with a leaderboard's.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch

from bench.data import DATASETS, DataInfo, DatasetParams, EvalSpec
from bench.data.base import split
from bench.errors import BenchError
from bench.metrics import METRICS
from bench.probes import unmeasurable
from bench.registry import suggest
from bench.results.aggregate import Leaderboard, Row
from bench.trial.evaluate import (
    DatasetAssets,
    Evaluation,
    Evaluator,
    embed_dataset,
    prepare_dataset,
)
from bench.userfiles import load_array


def read_array(path: Path) -> np.ndarray:
    """The samples stored at `path`: an array file or a folder of images, loaded and checked by
    bench.userfiles (numeric, (N, ...) of rank 2 to 4, not empty, finite)."""
    return load_array(Path(path), "samples")


def channels_first(x: np.ndarray, channels: set[int]) -> np.ndarray:
    """Images as (N, C, H, W): gray (N, H, W) gains a channel axis, and channel-last
    (N, H, W, C) is transposed when its last axis, and not its second, is a channel count."""
    if x.ndim == 3:
        return x[:, None]
    if x.ndim == 4 and x.shape[-1] in channels and x.shape[1] not in channels:
        return x.transpose(0, 3, 1, 2)
    return x


def to_data_space(array: np.ndarray, info: DataInfo, where: str) -> torch.Tensor:
    """Float samples of shape (N, *info.shape) in the data's value range. Integer images are read
    as 0..255; channel-last images (N, H, W, C) and gray (N, H, W) are rearranged."""
    x = np.asarray(array)
    integer = np.issubdtype(x.dtype, np.integer)
    if info.kind == "image":
        x = channels_first(x, {info.shape[0]})
    if x.shape[1:] != info.shape:
        raise BenchError(
            f"samples of shape {x.shape[1:]} do not match the data's shape {info.shape}",
            where=where,
            fix="generate samples of the dataset's shape (N, "
            + ", ".join(map(str, info.shape))
            + ")",
        )
    out = torch.as_tensor(x.astype(np.float32))
    if integer:
        low, high = info.value_range or (0.0, 1.0)
        out = low + out / 255.0 * (high - low)
    return out


def file_assets(path: Path, feature_space: str | None, n_reference: int) -> DatasetAssets:
    """Assets for a file/folder of real samples: a seeded 80/20 train/held-out split, measured in
    `feature_space` (default: raw coordinates for points, InceptionV3 for images)."""
    array = read_array(path)
    images = array.ndim >= 3
    if images:
        array = channels_first(array, {1, 3})
    info = DataInfo(
        shape=tuple(array.shape[1:]),
        kind="image" if images else "points",
        value_range=(0.0, 1.0) if images else None,
    )
    spec = EvalSpec(feature_space=feature_space or ("inception" if images else "raw"))
    x = to_data_space(array, info, str(path))
    fingerprint = f"file-{hashlib.sha256(x.numpy().tobytes()).hexdigest()[:12]}"
    splits = split(x, None, DatasetParams())
    if min(len(splits.train), len(splits.heldout)) == 0:
        raise BenchError(
            f"{len(x)} real samples are too few for a train and a held-out split",
            where=str(path),
            fix="give more real samples (hundreds or more)",
        )
    return embed_dataset(path.name, path.name, info, spec, splits, fingerprint, n_reference)


def real_assets(real: str, feature_space: str | None, n_reference: int) -> DatasetAssets:
    """A registered dataset by name, else a file or folder of real samples."""
    if real in DATASETS:
        return prepare_dataset(real, {}, real, n_reference)
    if Path(real).exists():
        return file_assets(Path(real), feature_space, n_reference)
    raise BenchError(
        f"--real '{real}' is neither a registered dataset nor an existing file or folder."
        + suggest(real, DATASETS.names()),
        where="--real",
        fix="give a dataset name (`bench list datasets`) or the path of real samples",
    )


def applicable_metrics(assets: DatasetAssets, chosen: list[str] | None) -> list[str]:
    """The chosen metrics (checked), or every metric that applies to the data without a model
    (metrics whose probes call the model cannot measure a file of samples)."""
    names = chosen or METRICS.names()
    usable = []
    for name in names:
        metric = METRICS.get(name)
        reason = metric.applies(assets.spec, assets.info) or unmeasurable(metric, None)
        if reason is None:
            usable.append(name)
        elif chosen:
            raise BenchError(
                f"metric '{name}' cannot measure these samples: {reason}",
                where="--metrics",
                fix="drop it, or omit --metrics to use every metric that applies",
            )
    return usable


def evaluate_external(
    real: str,
    fake: Path,
    metrics: list[str] | None = None,
    n_reference: int = 10_000,
    feature_space: str | None = None,
) -> tuple[Evaluation, Leaderboard]:
    """Measure the samples at `fake` against `real`; the evaluation and a one-row table."""
    assets = real_assets(real, feature_space, n_reference)
    names = applicable_metrics(assets, metrics)
    samples = to_data_space(read_array(Path(fake)), assets.info, str(fake))
    evaluator = Evaluator(assets, names, n_samples=len(samples), device=torch.device("cpu"))
    evaluation = evaluator.measure(samples)
    directions = {k: d for n in names for k, d in METRICS.get(n).directions.items()}
    row = Row(
        dataset=assets.label,
        model=Path(fake).name,
        variant=f"{len(samples)} samples",
        seeds=1,
        statuses={"completed": 1},
        values={k: [v] for k, v in evaluation.values.items()},
        errors=[f"{name}: {why}" for name, why in evaluation.not_computable.items()],
        rank=1,
    )
    return evaluation, Leaderboard(f"{Path(fake).name} vs {assets.label}", [row], directions)
