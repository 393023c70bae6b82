"""Diversity and fidelity from neighbourhoods and bins: precision, recall, density and coverage
(Kynkäänniemi et al. 2019; Naeem et al. 2020, exactly as the `prdc` package computes them) and
the number of statistically different bins (NDB, Richardson & Weiss 2018).

Both compare against the reference set, which is the same at every evaluation of a suite, so
the registered metrics do the work that depends on it alone (its k-NN radii, its k-means bins)
once per evaluator, in `prepare`; the functions take that work as an optional argument."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch

from bench.metrics.base import METRICS, EvalInputs, Features, Metric, MetricInputError
from bench.metrics.neighbours import (
    ArrayLike,
    Points,
    as_features,
    assign,
    ball_counts,
    check_widths,
    default_device,
    kmeans_centres,
    kth_neighbour_distances,
)
from bench.metrics.tiles import PointSet

PRDC_K = 5  # Naeem et al.'s default
NDB_BINS = 100  # Richardson & Weiss's K
NDB_MIN_PER_BIN = 20  # the registered metric uses fewer bins on small reference sets
NDB_SEED = 0
T = TypeVar("T")


def _device(x: torch.Tensor, device: torch.device | str | None) -> torch.device:
    return torch.device(device) if device is not None else x.device


def unless_invalid(work: Callable[[], T]) -> T | None:
    """Reference-side work for `Metric.prepare`, or None when the reference set is unusable:
    `compute` then does the work itself and reports the problem at every evaluation, as a
    metric that cannot be computed, instead of failing the evaluator."""
    try:
        return work()
    except MetricInputError:
        return None


# ---------------------------------------------------------------------------- prdc


def reference_radii(
    real: Points, k: int = PRDC_K, device: torch.device | str | None = None
) -> torch.Tensor:
    """prdc's radii of the reference set: each row's distance to its k-th nearest other row."""
    return kth_neighbour_distances(real, k, device=device)


def prdc(
    real_feats: ArrayLike,
    fake_feats: ArrayLike,
    k: int = PRDC_K,
    *,
    real_radii: ArrayLike | None = None,
    device: torch.device | str | None = None,
) -> dict[str, float]:
    """Precision, recall, density and coverage with the definitions of `prdc.compute_prdc`.

    Radii are distances to the k-th nearest neighbour within the same set, excluding self
    (real: r_i, generated: s_j); with strict inequalities as in prdc:
    precision = share of generated j with d(x_i, y_j) < r_i for some real i;
    recall    = share of real i with d(x_i, y_j) < s_j for some generated j;
    density   = (1/k) * mean over generated j of #{i: d(x_i, y_j) < r_i};
    coverage  = share of real i whose nearest generated sample lies within r_i.
    `real_radii`: `reference_radii(real, k)` when already known. Two self passes (each tile
    formed once, by symmetry) and one fused real x generated pass over the two sets prepared
    once, with exact float64 decisions (see bench.metrics.tiles)."""
    if k < 1:
        raise MetricInputError(f"prdc: k must be >= 1, got {k}")
    real = as_features("prdc", "real", real_feats, min_rows=k + 1)
    fake = as_features("prdc", "generated", fake_feats, min_rows=k + 1)
    check_widths("prdc", real=real, generated=fake)
    real_set = PointSet.of(real, device=_device(real, device))
    fake_set = PointSet.of(fake, like=real_set)
    radii = reference_radii(real_set, k) if real_radii is None else real_radii
    counts = ball_counts(real_set, fake_set, radii, kth_neighbour_distances(fake_set, k))
    assert counts.x_in_y_balls is not None  # y radii were given
    n, m = len(real), len(fake)
    return {
        "precision": int((counts.y_in_x_balls > 0).sum()) / m,
        "recall": int((counts.x_in_y_balls > 0).sum()) / n,
        "density": (1.0 / k) * (int(counts.y_in_x_balls.sum()) / m),  # as prdc rounds it
        "coverage": int((counts.x_balls_hit > 0).sum()) / n,
    }


# ---------------------------------------------------------------------------- ndb


@dataclass(frozen=True)
class Bins:
    """A k-means partition of training features: centres and each training row's bin."""

    centres: torch.Tensor  # (K, d) float64, CPU
    labels: torch.Tensor  # (N,) int64, CPU

    @property
    def counts(self) -> torch.Tensor:
        return torch.bincount(self.labels, minlength=len(self.centres))


def fit_bins(
    train: torch.Tensor, bins: int, seed: int, device: torch.device | str | None = None
) -> Bins:
    """k-means with `bins` clusters on `train`; every training row then goes to its nearest
    centre by the same exact rule used for other sets."""
    centres = kmeans_centres(train, bins, seed)
    return Bins(centres, assign(train, centres, device=_device(train, device)).cpu())


def bin_counts(
    x: torch.Tensor, centres: torch.Tensor, device: torch.device | str | None = None
) -> torch.Tensor:
    return torch.bincount(assign(x, centres, device=device).cpu(), minlength=len(centres))


def two_proportion_z(c1: torch.Tensor, n1: int, c2: torch.Tensor, n2: int) -> torch.Tensor:
    """Pooled two-proportion z statistic per bin; NaN where both proportions are 0 or 1."""
    p1, p2 = c1.double() / n1, c2.double() / n2
    pooled = (c1 + c2).double() / (n1 + n2)
    se = torch.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return (p1 - p2) / se


def jensen_shannon(p: ArrayLike, q: ArrayLike) -> float:
    """JS divergence of two histograms in nats (natural log): 0.5 KL(p||m) + 0.5 KL(q||m),
    m = (p+q)/2, with 0 log 0 = 0; equals scipy.spatial.distance.jensenshannon(p, q) ** 2."""
    p = torch.as_tensor(p, dtype=torch.float64)
    q = torch.as_tensor(q, dtype=torch.float64)
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2

    def kl(a: torch.Tensor) -> torch.Tensor:
        nz = a > 0
        return (a[nz] * torch.log(a[nz] / m[nz])).sum()

    return max(float(0.5 * kl(p) + 0.5 * kl(q)), 0.0)


def ndb(
    train_feats: ArrayLike,
    fake_feats: ArrayLike,
    bins: int = NDB_BINS,
    alpha: float = 0.05,
    seed: int = NDB_SEED,
    *,
    fitted: Bins | None = None,
    device: torch.device | str | None = None,
) -> dict[str, float]:
    """Number of statistically different bins (Richardson & Weiss 2018).

    k-means with `bins` clusters on the training features (`fitted`: `fit_bins(train, bins,
    seed)` when already known); both sets go to their nearest centre; per bin a two-sided pooled
    two-proportion z-test at level `alpha`, as in the authors' ndb.py. Returns NDB, NDB/K and
    the Jensen–Shannon divergence (nats) between the training and generated bin histograms."""
    if bins < 2:
        raise MetricInputError(f"ndb: needs at least 2 bins, got {bins}")
    if not 0 < alpha < 1:
        raise MetricInputError(f"ndb: alpha must lie in (0, 1), got {alpha}")
    train = as_features("ndb", "training", train_feats, min_rows=bins)
    fake = as_features("ndb", "generated", fake_feats, min_rows=1)
    check_widths("ndb", training=train, generated=fake)
    if fitted is None:
        fitted = fit_bins(train, bins, seed, device)
    elif len(fitted.centres) != bins or len(fitted.labels) != len(train):
        raise ValueError(f"fitted bins are not {bins} bins of these {len(train)} training rows")
    c_train = fitted.counts
    c_fake = bin_counts(fake, fitted.centres, _device(fake, device))
    z = two_proportion_z(c_train, len(train), c_fake, len(fake))
    p_values = torch.special.erfc(z.abs() / np.sqrt(2.0))  # two-sided normal tail
    different = int((p_values < alpha).sum())  # NaN (both bins empty or full) is not different
    return {
        "ndb": float(different),
        "ndb_over_k": different / bins,
        "js": jensen_shannon(c_train, c_fake),
    }


# ---------------------------------------------------------------------------- registered


@METRICS.register("prdc")
class Prdc(Metric):
    order = 5
    description = (
        f"precision, recall, density and coverage (k={PRDC_K}) against the reference set, "
        "as the prdc package"
    )
    directions = {"precision": "max", "recall": "max", "density": "max", "coverage": "max"}
    per_space = True
    settings = {"k": PRDC_K}

    def prepare(self, reference: Features) -> torch.Tensor | None:
        """The reference radii."""

        def radii() -> torch.Tensor:
            real = as_features("prdc", "real", reference.features, min_rows=PRDC_K + 1)
            return reference_radii(real, PRDC_K, default_device())

        return unless_invalid(radii)

    def compute(self, inputs: EvalInputs, prepared: Any = None) -> dict[str, float]:
        real, fake = inputs.real.features, inputs.fake.features
        return prdc(real, fake, real_radii=prepared, device=default_device())


def ndb_bins(n_reference: int) -> int:
    """The registered metric's K: NDB_BINS, fewer on small reference sets."""
    return min(NDB_BINS, n_reference // NDB_MIN_PER_BIN)


@METRICS.register("ndb")
class Ndb(Metric):
    order = 6
    description = (
        f"number of statistically different k-means bins (K={NDB_BINS}, fewer on small "
        "reference sets) and the bins' Jensen-Shannon divergence"
    )
    directions = {"ndb": "min", "ndb_over_k": "min", "ndb_js": "min"}
    per_space = True
    settings = {"bins": NDB_BINS, "min_reference_per_bin": NDB_MIN_PER_BIN, "seed": NDB_SEED}

    def prepare(self, reference: Features) -> Bins | None:
        """The reference set's k-means bins."""
        bins = ndb_bins(len(reference.features))
        if bins < 2:
            return None  # compute() says why

        def fit() -> Bins:
            train = as_features("ndb", "training", reference.features, min_rows=bins)
            return fit_bins(train, bins, NDB_SEED, default_device())

        return unless_invalid(fit)

    def compute(self, inputs: EvalInputs, prepared: Any = None) -> dict[str, float]:
        real = inputs.real.features
        bins = ndb_bins(len(real))
        if bins < 2:
            raise MetricInputError(
                f"ndb: {len(real)} reference samples are too few for 2 bins of "
                f"{NDB_MIN_PER_BIN}; evaluate with more samples"
            )
        fake = inputs.fake.features
        values = ndb(real, fake, bins=bins, fitted=prepared, device=default_device())
        return {"ndb": values["ndb"], "ndb_over_k": values["ndb_over_k"], "ndb_js": values["js"]}
