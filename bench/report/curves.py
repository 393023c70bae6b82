"""Curves for the HTML report: a row's seeds folded into one mean ± std band per value over steps.

Histories hold a row per training step (100,000 rows is a normal GAN run), so a curve is binned to
at most MAX_POINTS points, each the mean of its bin per seed; evaluations are few and kept whole.
Seeds need not share steps (a diverged seed stops early): a point's band is over the seeds that
reached it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from bench.plots import Band

MAX_POINTS = 200  # per curve: enough for the shape, few enough for a light figure
Series = tuple[np.ndarray, np.ndarray]  # (steps, values) of one seed


def history_columns(rows: Sequence[dict[str, float]]) -> dict[str, np.ndarray]:
    """A trial's history rows (bench.results.folder.TrialResult.history) as columns of floats
    ('step' included); a key a row did not log is NaN there."""
    names = list(dict.fromkeys(k for row in rows for k in row))
    return {n: np.array([row.get(n, math.nan) for row in rows], dtype=float) for n in names}


def bins_of(steps: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Every step's bin index, the bins' x (mean step), and how many bins: each distinct step its
    own bin when there are few, else `max_points` equal-width bins over the step range."""
    distinct = np.unique(steps)
    if len(distinct) <= max_points:
        index = np.searchsorted(distinct, steps)
        return index, distinct.astype(float), len(distinct)
    low, high = distinct[0], distinct[-1]
    index = np.minimum(((steps - low) / (high - low) * max_points).astype(int), max_points - 1)
    where = np.minimum(((distinct - low) / (high - low) * max_points).astype(int), max_points - 1)
    sums = np.bincount(where, weights=distinct, minlength=max_points)
    counts = np.bincount(where, minlength=max_points)
    centres = np.divide(sums, counts, out=np.full(max_points, np.nan), where=counts > 0)
    return index, centres, max_points


def bin_means(index: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Mean of the finite `values` in each bin (NaN where a bin has none)."""
    finite = np.isfinite(values)
    sums = np.bincount(index[finite], weights=values[finite], minlength=size)
    counts = np.bincount(index[finite], minlength=size)
    return np.divide(sums, counts, out=np.full(size, np.nan), where=counts > 0)


def mean_std(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per column of a (seeds × points) matrix with NaN holes: mean, sample std (NaN below two
    seeds), and how many seeds it is over; computed without NumPy's empty-slice warnings."""
    finite = np.isfinite(matrix)
    counts = finite.sum(axis=0)
    filled = np.where(finite, matrix, 0.0)
    mean = np.divide(
        filled.sum(axis=0), counts, out=np.full(counts.shape, np.nan), where=counts > 0
    )
    square = np.where(finite, (matrix - mean) ** 2, 0.0).sum(axis=0)
    var = np.divide(square, counts - 1, out=np.full(counts.shape, np.nan), where=counts > 1)
    return mean, np.sqrt(var), counts


def seed_band(label: str, series: Sequence[Series], max_points: int = MAX_POINTS) -> Band | None:
    """One band over the seeds' (steps, values), binned to at most `max_points`; None when no
    seed has a finite value."""
    series = [(np.asarray(s, float), np.asarray(v, float)) for s, v in series if len(s)]
    if not series:
        return None
    index, x, size = bins_of(np.concatenate([s for s, _ in series]), max_points)
    ends = np.cumsum([len(s) for s, _ in series])
    starts = ends - [len(s) for s, _ in series]
    matrix = np.array(
        [
            bin_means(index[a:b], values, size)
            for a, b, (_, values) in zip(starts, ends, series, strict=True)
        ]
    )
    mean, std, counts = mean_std(matrix)
    keep = counts > 0
    if not keep.any():
        return None
    spread = std[keep] if (counts > 1).any() else None
    return Band(
        label, x[keep].tolist(), mean[keep].tolist(), None if spread is None else spread.tolist()
    )


def evaluation_series(evaluations: Sequence[dict], key: str) -> Series:
    """(steps, values) of one metric over a trial's evaluations (metrics.json `evaluations`)."""
    points = [(e["step"], e.get("metrics", {}).get(key)) for e in evaluations]
    points = [(s, v) for s, v in points if v is not None]
    return np.array([s for s, _ in points], float), np.array([v for _, v in points], float)
