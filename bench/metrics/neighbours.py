"""Chunked nearest-neighbour primitives shared by the diversity and memorization metrics: input
checks, k nearest neighbours, k-th neighbour distances, ball counts and k-means cells.

Every function takes tensors (prepared on the fly) or `PointSet`s prepared once, so a metric
that makes several passes over one set (prdc: its radii, then the ball counts) shares the
set's float32 copy and norms between them. No function here holds an N x M distance matrix,
and every comparison and returned distance is exact float64: see `bench.metrics.tiles`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from bench.metrics.base import MetricInputError
from bench.metrics.knn import k_nearest_sets, kth_distance_sets
from bench.metrics.tiles import (
    PointSet,
    exact_sq_distances,
    full_precision_matmul,
    tile_size,
    tiles,
    tolerance,
)

ArrayLike = torch.Tensor | np.ndarray
Points = torch.Tensor | PointSet
BLOCK = 4096  # rows per chunk of the input checks


def default_device() -> torch.device:
    """Where registered metrics compute: the GPU a trial was given, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


# ---------------------------------------------------------------------------- input checks


def as_features(metric: str, which: str, x: ArrayLike, min_rows: int = 1) -> torch.Tensor:
    """`x` as a finite (N, d) float tensor without copying float32/float64 input (numpy arrays
    are shared, not copied), or a MetricInputError naming the metric, the input and the
    problem."""
    t = torch.as_tensor(x).detach()
    if t.dim() != 2:
        raise MetricInputError(
            f"{metric}: {which} features must be 2-D (N, d), got {tuple(t.shape)}"
        )
    if t.shape[1] == 0:
        raise MetricInputError(f"{metric}: {which} features have zero width")
    if len(t) < min_rows:
        raise MetricInputError(f"{metric}: {which} features need >= {min_rows} rows, got {len(t)}")
    if t.dtype not in (torch.float32, torch.float64):
        t = t.to(torch.float64)
    bad = _non_finite_rows(t)
    if bad:
        raise MetricInputError(f"{metric}: {which} features hold NaN or inf in {bad} rows")
    return t


def _non_finite_rows(t: torch.Tensor) -> int:
    """Rows holding NaN or inf. A row's sum is non-finite whenever one of its entries is, so
    one cheap pass finds the suspects (overflow can add false ones) and only those are checked
    entry by entry; chunked, so no full-size temporary is ever allocated."""
    bad = 0
    for chunk in torch.split(t, BLOCK):
        suspects = chunk[~torch.isfinite(chunk.sum(dim=1))]
        bad += int((~torch.isfinite(suspects)).any(dim=1).sum())
    return bad


def check_widths(metric: str, **sets: torch.Tensor) -> None:
    widths = {name: int(t.shape[1]) for name, t in sets.items()}
    if len(set(widths.values())) > 1:
        listed = ", ".join(f"{name} {w}" for name, w in widths.items())
        raise MetricInputError(f"{metric}: feature widths differ ({listed})")


def _as_radii(radii: ArrayLike, n: int, device: torch.device) -> torch.Tensor:
    r = torch.as_tensor(radii).detach().to(device, torch.float64).reshape(-1)
    if len(r) != n:
        raise ValueError(f"need one radius per row ({n}), got {len(r)}")
    if not bool(torch.isfinite(r).all()) or bool((r < 0).any()):
        raise ValueError("radii must be finite and non-negative")
    return r


# ---------------------------------------------------------------------------- point sets


def point_sets(
    x: Points, y: Points | None, device: torch.device | str | None
) -> tuple[PointSet, PointSet]:
    """Both sets prepared for the tiles, reusing those already prepared (a set prepared here is
    centred like the other one); without `y`, x twice. Prepared sets must share their shift:
    the screen's matmul form assumes one centre for both."""
    if isinstance(y, PointSet) and not isinstance(x, PointSet):
        return PointSet.of(x, like=y), y
    xs = x if isinstance(x, PointSet) else PointSet.of(x, device=device)
    if y is None:
        return xs, xs
    ys = y if isinstance(y, PointSet) else PointSet.of(y, like=xs)
    if ys.shift is not xs.shift and not torch.equal(ys.shift, xs.shift):
        raise ValueError("point sets compared must share a shift: PointSet.of(y, like=x)")
    return xs, ys


# ---------------------------------------------------------------------------- k nearest


def k_nearest(
    x: Points,
    k: int,
    y: Points | None = None,
    *,
    block: int | None = None,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Distances (float64, ascending) and indices of the k nearest rows of `y` to each row of
    `x`, both (N, k). Without `y`: neighbours within `x`, each row excluding itself (by index:
    an exact duplicate elsewhere still counts, at distance 0), using the symmetry to form each
    tile once."""
    with full_precision_matmul():
        xs, ys = point_sets(x, y, device)
        return k_nearest_sets(xs, ys, k, y is None, tile_size(block, xs.device))


def kth_neighbour_distances(
    x: Points,
    k: int,
    exclude_self: bool = True,
    *,
    block: int | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """(N,) float64 distance of each row of x to its k-th nearest row of x. Excluding self, this
    equals prdc's radius: the (k+1)-th smallest of the row's distances including its own 0."""
    with full_precision_matmul():
        xs, _ = point_sets(x, None, device)
        return kth_distance_sets(xs, xs, k, exclude_self, tile_size(block, xs.device))


def nearest(
    x: Points,
    y: Points,
    *,
    block: int | None = None,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(N,) float64 distance from each row of x to its nearest row of y, and that row's index."""
    dist, idx = k_nearest(x, 1, y, block=block, device=device)
    return dist[:, 0], idx[:, 0]


# ---------------------------------------------------------------------------- ball counts


@dataclass
class BallCounts:
    """Who lies in whose ball, for balls of given radii around the rows of x (and of y).
    Strict inequality throughout, d < r, as in prdc."""

    y_in_x_balls: torch.Tensor  # (M,) per row of y: how many x balls contain it
    x_balls_hit: torch.Tensor  # (N,) per row of x: how many rows of y its ball contains
    x_in_y_balls: torch.Tensor | None  # (N,) per row of x: how many y balls contain it


def _count(mask: torch.Tensor, dim: int) -> torch.Tensor:
    """True entries along `dim`; summing the bytes is ~10x faster than bool.sum on the CPU."""
    return mask.view(torch.uint8).sum(dim=dim, dtype=torch.int32)


def _settle(
    xs: PointSet,
    ys: PointSet,
    sure: torch.Tensor,
    maybe: torch.Tensor,
    origin: tuple[int, int],
    radius_of: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
) -> tuple[torch.Tensor, torch.Tensor]:
    """`sure`: pairs screened surely inside a ball (d2 < threshold - tol); `maybe`: those plus
    the pairs too close to call (d2 < threshold + tol). Decides the latter exactly and returns
    the (x row, y row) pairs among them that lie inside. Overwrites `maybe`."""
    band = torch.ne(maybe, sure, out=maybe)  # sure implies maybe: the pairs too close to call
    r, c = band.nonzero(as_tuple=True)
    i, j = r + origin[0], c + origin[1]
    inside = exact_sq_distances(xs, ys, i, j).sqrt() < radius_of(i, j)
    return i[inside], j[inside]


def _add(counts: torch.Tensor, index: torch.Tensor) -> None:
    counts.index_add_(0, index, torch.ones_like(index))


def _inside(
    xs: PointSet,
    ys: PointSet,
    d2: torch.Tensor,
    masks: torch.Tensor,
    thresholds: tuple[torch.Tensor, torch.Tensor],
    origin: tuple[int, int],
    radius_of: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The tile's pairs inside their balls: the mask of those surely inside by the screen (a
    view of `masks`, valid until the next call) and the (x row, y row) pairs decided inside
    exactly among the rest."""
    sure, maybe = (m[: d2.numel()].view(d2.shape) for m in masks)
    torch.lt(d2, thresholds[0], out=sure)
    torch.lt(d2, thresholds[1], out=maybe)
    return sure, *_settle(xs, ys, sure, maybe, origin, radius_of)


def _ball_counts(
    xs: PointSet, ys: PointSet, rx: torch.Tensor, ry: torch.Tensor | None, block: int
) -> BallCounts:
    dev = xs.device
    tol = tolerance(xs, ys).float()
    y_in = torch.zeros(len(ys), dtype=torch.int64, device=dev)
    hit = torch.zeros(len(xs), dtype=torch.int64, device=dev)
    x_in = None if ry is None else torch.zeros(len(xs), dtype=torch.int64, device=dev)
    masks = torch.empty(2, min(block, len(xs)) * min(block, len(ys)), dtype=torch.bool, device=dev)
    for a0, a1, b0, b1, d2 in tiles(xs, ys, block, symmetric=False):
        r2 = rx[a0:a1, None].square().float()
        t = tol[a0:a1, None]
        sure, i, j = _inside(xs, ys, d2, masks, (r2 - t, r2 + t), (a0, b0), lambda i, _: rx[i])
        y_in[b0:b1] += _count(sure, 0)
        hit[a0:a1] += _count(sure, 1)
        _add(y_in, j)
        _add(hit, i)
        if ry is not None and x_in is not None:
            # One margin for the tile's rows (their largest), so both thresholds are plain
            # row vectors: no tile-sized threshold matrix.
            s2, t_max = ry[None, b0:b1].square().float(), t.max()
            sure, i, _ = _inside(
                xs, ys, d2, masks, (s2 - t_max, s2 + t_max), (a0, b0), lambda _, j: ry[j]
            )
            x_in[a0:a1] += _count(sure, 1)
            _add(x_in, i)
    return BallCounts(y_in_x_balls=y_in, x_balls_hit=hit, x_in_y_balls=x_in)


def ball_counts(
    x: Points,
    y: Points,
    x_radii: ArrayLike,
    y_radii: ArrayLike | None = None,
    *,
    block: int | None = None,
    device: torch.device | str | None = None,
) -> BallCounts:
    """One pass over the x-y tiles counting pairs with d(x_i, y_j) < x_radii[i] (both ways:
    per y row and per x row) and, when `y_radii` is given, pairs with d(x_i, y_j) < y_radii[j]
    per x row. Pairs within the screening margin of a radius are decided exactly."""
    with full_precision_matmul():
        xs, ys = point_sets(x, y, device)
        rx = _as_radii(x_radii, len(xs), xs.device)
        ry = None if y_radii is None else _as_radii(y_radii, len(ys), xs.device)
        return _ball_counts(xs, ys, rx, ry, tile_size(block, xs.device))


# ---------------------------------------------------------------------------- k-means cells


def kmeans_centres(x: torch.Tensor, clusters: int, seed: int) -> torch.Tensor:
    """(clusters, d) float64 k-means centres of x (scikit-learn, k-means++ init, deterministic
    under `seed`), fitted on a float32 copy to halve the memory it needs."""
    from sklearn.cluster import KMeans  # heavy import, only where used

    data = x.detach().cpu().to(torch.float32).numpy()
    fit = KMeans(n_clusters=clusters, n_init=1, random_state=seed, copy_x=False).fit(data)
    return torch.from_numpy(fit.cluster_centers_).to(torch.float64)


def assign(
    x: torch.Tensor, centres: torch.Tensor, *, device: torch.device | str | None = None
) -> torch.Tensor:
    """(N,) index of each row's nearest centre (exact, chunked)."""
    return nearest(x, centres, device=device)[1]
