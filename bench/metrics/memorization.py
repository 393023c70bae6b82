"""Memorization: does the model copy its training data? Generated samples are compared with
held-out samples of the same distribution by their nearest-neighbour distance to the training
set: a model that generalises puts its samples as far from the training points as fresh data
lies; a copying model puts them much closer.

- nn_distance_ratio: median NN distance generated->train over held-out->train (~1 healthy, << 1
  copies).
- copy_fraction: share of generated samples nearer to the training set than 99% of held-out
  samples are (~0.01 healthy).
- authenticity: Alaa et al. 2022, "How faithful is your synthetic data?", Sec. 3.3.
- ct: the data-copying statistic C_T of Meehan, Chaudhuri & Dasgupta 2020.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from bench.metrics.base import METRICS, EvalInputs, Features, Metric, MetricInputError
from bench.metrics.diversity import Bins, fit_bins, unless_invalid
from bench.metrics.neighbours import (
    ArrayLike,
    as_features,
    assign,
    check_widths,
    default_device,
    kth_neighbour_distances,
    nearest,
)
from bench.metrics.tiles import PointSet

COPY_QUANTILE = 0.01  # copy_fraction's threshold: this quantile of held-out NN distances
CT_CELLS = 20  # k-means cells of the C_T test
CT_MIN_GENERATED = 20  # Meehan et al.'s tau = 20/m: a cell counts with more generated samples
NAME = "memorization"


def _median(x: torch.Tensor) -> float:
    """Midpoint median (mean of the two middle values for an even count), as numpy's."""
    return float(np.median(x.cpu().numpy()))


def _rows(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return x[mask.to(x.device)]


def mann_whitney_z(x: ArrayLike, y: ArrayLike) -> float:
    """Z-scored Mann–Whitney U of x against y, as Meehan et al.'s reference code computes it:
    U = #{(i, j): x_i > y_j} + ties/2 (scipy's statistic for x), standardised by its null mean
    m n / 2 less a 0.5 continuity correction and sd sqrt(m n (m + n + 1) / 12). Negative when
    x tends to be smaller than y."""
    a = np.asarray(torch.as_tensor(x).cpu(), dtype=np.float64).reshape(-1)
    b = np.asarray(torch.as_tensor(y).cpu(), dtype=np.float64).reshape(-1)
    m, n = len(a), len(b)
    if m == 0 or n == 0:
        raise ValueError("mann_whitney_z needs two non-empty samples")
    from scipy.stats import rankdata

    ranks = rankdata(np.concatenate([a, b]))  # average ranks for ties
    u = ranks[:m].sum() - m * (m + 1) / 2
    mean = m * n / 2 - 0.5
    sd = math.sqrt(m * n * (m + n + 1) / 12)
    return float((u - mean) / sd)


def data_copying_ct(
    train: torch.Tensor,
    fake: torch.Tensor,
    heldout: torch.Tensor,
    cells: int = CT_CELLS,
    tau: float | None = None,
    seed: int = 0,
    *,
    bins: Bins | None = None,
    device: torch.device | str | None = None,
) -> float:
    """C_T of Meehan, Chaudhuri & Dasgupta 2020, following their reference code
    (casey-meehan/data-copying): cells are k-means clusters of the training set; in each cell
    with a generated share above `tau` (default 20/m, i.e. more than 20 generated samples) the
    NN distances to that cell's training points of generated vs held-out samples give a
    Mann–Whitney Z (`mann_whitney_z`); C_T is their average weighted by each cell's held-out
    share. C_T << 0: generated samples sit closer to the training points than fresh data does.
    Cells holding no held-out sample carry zero weight and are skipped (the reference code
    raises instead). `bins`: `fit_bins(train, cells, seed)` when already known."""
    m, n = len(fake), len(heldout)
    tau = CT_MIN_GENERATED / m if tau is None else tau
    if bins is None:
        bins = fit_bins(train, cells, seed, device)
    fake_cells = assign(fake, bins.centres, device=device).cpu()
    held_cells = assign(heldout, bins.centres, device=device).cpu()
    q_share = torch.bincount(fake_cells, minlength=cells).double() / m
    p_share = torch.bincount(held_cells, minlength=cells).double() / n
    kept = ((q_share > tau) & (p_share > 0)).nonzero().flatten().tolist()
    if not kept:
        raise MetricInputError(
            f"{NAME}: no k-means cell holds more than tau*m = {tau * m:g} generated samples "
            f"(m = {m}, {cells} cells); evaluate with more samples"
        )
    weights, scores = [], []
    for c in kept:
        cell_train = _rows(train, bins.labels == c)
        lq = nearest(_rows(fake, fake_cells == c), cell_train, device=device)[0]
        lp = nearest(_rows(heldout, held_cells == c), cell_train, device=device)[0]
        weights.append(float(p_share[c]))
        scores.append(mann_whitney_z(lq, lp))
    return float(np.dot(weights, scores) / np.sum(weights))


@dataclass(frozen=True)
class TrainingWork:
    """What memorization computes from the training (reference) set alone."""

    nn_distances: torch.Tensor  # (N,) each training point's distance to its nearest other one
    cells: Bins  # the k-means cells of C_T


def training_work(
    train: torch.Tensor,
    cells: int,
    seed: int = 0,
    *,
    device: torch.device | str | None = None,
) -> TrainingWork:
    """The training-side work of `memorization(..., cells=cells, seed=seed)`."""
    nn = kth_neighbour_distances(train, 1, device=device)
    return TrainingWork(nn, fit_bins(train, cells, seed, device))


def memorization(
    train_feats: ArrayLike,
    fake_feats: ArrayLike,
    heldout_feats: ArrayLike,
    *,
    cells: int = CT_CELLS,
    tau: float | None = None,
    seed: int = 0,
    work: TrainingWork | None = None,
    device: torch.device | str | None = None,
) -> dict[str, float]:
    """nn_distance_ratio, copy_fraction, authenticity and ct (see the module docstring).
    `work`: `training_work(train, ...)` when already known (its cells are refitted when their
    number is not `cells`).

    Authenticity follows the paper's definition: generated sample j, whose nearest training
    point is i*, is inauthentic when d(j, i*) <= d(i*, its nearest other training point), and
    authenticity is the share of authentic generated samples. (The authors' released code
    loops over real rather than generated samples and mixes the two index spaces; we follow
    the text. Its tie rule is kept: an exact tie, e.g. a copy of a duplicated training point,
    counts as inauthentic.)"""
    train = as_features(NAME, "training", train_feats, min_rows=max(2, cells))
    fake = as_features(NAME, "generated", fake_feats, min_rows=1)
    heldout = as_features(NAME, "held-out", heldout_feats, min_rows=1)
    check_widths(NAME, training=train, generated=fake, held_out=heldout)
    dev = torch.device(device) if device is not None else train.device
    train_set = PointSet.of(train, device=dev)  # shared by the three searches below
    d_fake, i_fake = nearest(fake, train_set)
    d_held, _ = nearest(heldout, train_set)
    held_median = _median(d_held)
    if held_median == 0:
        raise MetricInputError(
            f"{NAME}: most held-out samples coincide with training samples (median distance "
            "0); the held-out split overlaps the training split"
        )
    train_nn = kth_neighbour_distances(train_set, 1) if work is None else work.nn_distances
    bins = work.cells if work is not None and len(work.cells.centres) == cells else None
    threshold = float(np.quantile(d_held.cpu().numpy(), COPY_QUANTILE))
    return {
        "nn_distance_ratio": _median(d_fake) / held_median,
        "copy_fraction": float((d_fake < threshold).double().mean()),
        "authenticity": float((d_fake > train_nn[i_fake]).double().mean()),
        "ct": data_copying_ct(train, fake, heldout, cells, tau, seed, bins=bins, device=dev),
    }


def ct_cells(n_train: int, n_fake: int = CT_CELLS * 40, n_heldout: int = CT_CELLS * 20) -> int:
    """The registered metric's number of C_T cells: fewer on small sets, so that cells can pass
    tau (> 20 generated samples) and hold held-out and training points. Without the sample
    sets' sizes: the most the training set allows."""
    return max(1, min(CT_CELLS, n_fake // 40, n_heldout // 20, n_train // 20))


@METRICS.register("memorization")
class Memorization(Metric):
    order = 7
    description = (
        "training-data copying: NN-distance ratio and copy share vs held-out data, "
        "authenticity (Alaa et al.) and the C_T test (Meehan et al.)"
    )
    directions = {
        "nn_distance_ratio": "max",
        "copy_fraction": "min",
        "authenticity": "max",
        "ct": "max",
    }
    per_space = True
    settings = {
        "copy_quantile": COPY_QUANTILE,
        "ct_cells": CT_CELLS,
        "ct_min_generated": CT_MIN_GENERATED,
    }

    def prepare(self, reference: Features) -> TrainingWork | None:
        """The training side, with as many cells as the training set allows: what the sample
        sets allow is known only in compute(), which refits the cells when they allow fewer."""
        cells = ct_cells(len(reference.features))

        def work() -> TrainingWork:
            train = as_features(NAME, "training", reference.features, min_rows=max(2, cells))
            return training_work(train, cells, device=default_device())

        return unless_invalid(work)

    def compute(self, inputs: EvalInputs, prepared: Any = None) -> dict[str, float]:
        if inputs.heldout is None:
            raise MetricInputError(
                f"{NAME}: needs the held-out split's features (EvalInputs.heldout is None)"
            )
        train, fake = inputs.real.features, inputs.fake.features
        heldout = inputs.heldout.features
        cells = ct_cells(len(train), len(fake), len(heldout))
        return memorization(
            train, fake, heldout, cells=cells, work=prepared, device=default_device()
        )
