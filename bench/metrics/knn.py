"""Exact k-nearest-neighbour search over prepared point sets (`bench.metrics.tiles`): a float32
screen keeps a few candidates per row, and only the candidates whose order the screen cannot
certify get their distances recomputed in float64. The tensor-level entry points are in
`bench.metrics.neighbours`."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from bench.metrics.tiles import INF, PointSet, exact_sq_distances, tiles, tolerance

PAD = 8  # candidates kept per row beyond k, so exact re-ranking rarely needs the full fallback
FALLBACK_ROWS = 256  # rows per chunk of the exhaustive fallback


def _merge(vals: torch.Tensor, idx: torch.Tensor, r0: int, d2: torch.Tensor, c0: int) -> None:
    """Fold one tile (rows r0:, columns c0:) into the running candidates of its rows."""
    kk = vals.shape[1]
    v, j = torch.topk(d2, min(kk, d2.shape[1]), dim=1, largest=False)
    r1 = r0 + len(v)
    all_v = torch.cat([vals[r0:r1], v], dim=1)
    all_i = torch.cat([idx[r0:r1], j + c0], dim=1)
    best, pos = torch.topk(all_v, kk, dim=1, largest=False)
    vals[r0:r1] = best
    idx[r0:r1] = all_i.gather(1, pos)


def _screen(
    xs: PointSet, ys: PointSet, kk: int, symmetric: bool, block: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row of x, the kk smallest screened squared distances (ascending) and their indices;
    -1/inf where y has fewer rows."""
    vals = torch.full((len(xs), kk), INF, device=xs.device)
    idx = torch.full((len(xs), kk), -1, dtype=torch.int64, device=xs.device)
    side = min(block, len(xs))
    flipped = torch.empty(side * min(block, len(ys)), device=xs.device)
    for a0, _, b0, _, d2 in tiles(xs, ys, block, symmetric):
        if symmetric and a0 == b0:
            d2.fill_diagonal_(INF)  # exclude self by index, not by value (duplicates stay)
        _merge(vals, idx, a0, d2, b0)
        if symmetric and a0 != b0:
            # The same tile serves the column rows; a transposed copy makes their top-k
            # contiguous (twice as fast as top-k down the columns).
            shape = (d2.shape[1], d2.shape[0])
            _merge(vals, idx, b0, flipped[: d2.numel()].view(shape).copy_(d2.T), a0)
    return vals, idx


def _exhaustive(
    xs: PointSet, ys: PointSet, rows: torch.Tensor, k: int, symmetric: bool, block: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact k nearest for a few rows, all distances in float64 direct differences: the
    fallback for rows whose candidates the float32 screen could not certify."""
    dev = xs.device
    xr = xs.rows64(rows)
    best_v = torch.full((len(rows), k), INF, dtype=torch.float64, device=dev)
    best_i = torch.full((len(rows), k), -1, dtype=torch.int64, device=dev)
    for b0 in range(0, len(ys), block):
        yb = ys.data[b0 : b0 + block].to(dev, torch.float64)
        d2 = torch.cdist(xr, yb, compute_mode="donot_use_mm_for_euclid_dist").square()
        cols = torch.arange(b0, b0 + len(yb), device=dev)
        if symmetric:
            d2[rows.to(dev)[:, None] == cols[None, :]] = INF
        all_v = torch.cat([best_v, d2], dim=1)
        all_i = torch.cat([best_i, cols.expand_as(d2)], dim=1)
        best_v, pos = torch.topk(all_v, k, dim=1, largest=False)
        best_i = all_i.gather(1, pos)
    return best_v, best_i


@dataclass
class _Candidates:
    """Screened candidates of every row of x and the window in which exact values matter."""

    vals: torch.Tensor  # (N, kk) float64 screened squared distances, ascending
    idx: torch.Tensor  # (N, kk) their rows of y
    lo: torch.Tensor  # (N,) screened k-th value - 2 tol
    hi: torch.Tensor  # (N,) screened k-th value + 2 tol
    complete: bool  # the candidates are all of y


def _candidates(xs: PointSet, ys: PointSet, k: int, symmetric: bool, block: int) -> _Candidates:
    available = len(ys) - (1 if symmetric else 0)
    if k > available:
        raise ValueError(f"asked for {k} neighbours among {available} points")
    kk = min(k + PAD, available)
    vals, idx = _screen(xs, ys, kk, symmetric, block)
    # Screened values are within `tol` of the exact ones, so the exact k-th smallest lies
    # within tol of the screened k-th: a row screened above hi is exactly above it (cannot be
    # among the k nearest), a row screened below lo is exactly below it (surely among them).
    kth, two_tol = vals[:, k - 1].double(), 2 * tolerance(xs, ys)
    return _Candidates(vals.double(), idx, kth - two_tol, kth + two_tol, kk == available)


def _exact_where(xs: PointSet, ys: PointSet, cand: _Candidates, mask: torch.Tensor) -> torch.Tensor:
    """(N, kk) exact squared distances of the masked candidates, inf elsewhere."""
    rows, cols = mask.nonzero(as_tuple=True)
    exact = torch.full(mask.shape, INF, dtype=torch.float64, device=xs.device)
    exact[rows, cols] = exact_sq_distances(xs, ys, rows, cand.idx[rows, cols])
    return exact


def _doubtful(cand: _Candidates) -> torch.Tensor:
    """Rows whose last candidate still screens within the window: a row outside the
    candidates might matter (many near-duplicates), so they are searched exhaustively."""
    if cand.complete:
        return torch.empty(0, dtype=torch.int64, device=cand.idx.device)
    return (cand.vals[:, -1] <= cand.hi).nonzero().flatten()


def k_nearest_sets(
    xs: PointSet, ys: PointSet, k: int, symmetric: bool, block: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact float64 distances (ascending) and indices of the k nearest rows of ys to each row
    of xs; `symmetric`: ys is xs, and each row excludes itself."""
    cand = _candidates(xs, ys, k, symmetric, block)
    exact = _exact_where(xs, ys, cand, cand.vals <= cand.hi[:, None])
    exact, order = exact.sort(dim=1)
    top_v, top_i = exact[:, :k], cand.idx.gather(1, order[:, :k])
    for chunk in torch.split(_doubtful(cand), FALLBACK_ROWS):
        top_v[chunk], top_i[chunk] = _exhaustive(xs, ys, chunk, k, symmetric, block)
    return top_v.sqrt(), top_i


def kth_distance_sets(
    xs: PointSet, ys: PointSet, k: int, symmetric: bool, block: int
) -> torch.Tensor:
    """Only the k-th distance: exact values are needed just inside the window (typically one
    candidate per row in high dimensions), the `below` ones only need counting."""
    cand = _candidates(xs, ys, k, symmetric, block)
    below = (cand.vals < cand.lo[:, None]).sum(dim=1)
    window = (cand.vals >= cand.lo[:, None]) & (cand.vals <= cand.hi[:, None])
    exact = _exact_where(xs, ys, cand, window).sort(dim=1).values
    kth = exact.gather(1, (k - 1 - below)[:, None]).squeeze(1)
    for chunk in torch.split(_doubtful(cand), FALLBACK_ROWS):
        kth[chunk] = _exhaustive(xs, ys, chunk, k, symmetric, block)[0][:, -1]
    return kth.sqrt()
