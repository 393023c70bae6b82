"""The tiled distance kernel under bench's nearest-neighbour searches (`bench.metrics.knn`,
`bench.metrics.neighbours`): point sets prepared once, screened squared distances one tile at a
time, and exact float64 recomputation of the pairs the screen cannot settle.

No search ever holds an N x M distance matrix: distances are formed one tile at a time (2048 x
2048 on the CPU, 8192 x 8192 on a GPU) in one buffer reused for every tile. A `PointSet` is
prepared once per set and shared by every pass over it (prdc makes three passes over two sets):
its float32 centred copy (half the size of float64 input) and float64 squared norms, so no tile
converts or centres data again. Beyond the inputs, memory is those copies plus ~100 MB of tile
buffers on the CPU: 50,000 x 50,000 float64 2048-d features (1.6 GB) add 0.8 GB of copies.

Precision. Each tile is screened in float32 with the matmul form |x|^2 + |y|^2 - 2 x.y on
centred data (one shift shared by the sets compared, so norms and hence rounding stay small),
which runs at float32 GEMM speed. Every decision the screen cannot settle is then recomputed
exactly: for a float32 GEMM over d dimensions, |computed - true| squared distance is at most
about d * 2^-24 * (|x|^2 + |y|^2) (the standard dot-product error bound), and we use a margin
`tolerance()` a little wider than that. A pair whose screened value lies within the margin of a
threshold, and every candidate neighbour, gets its distance recomputed in float64 as
sum((x - y)^2) from the original values. So every comparison and every returned distance is
that of float64 direct differences (relative error ~1e-16) — the values the reference
implementations (scikit-learn in float64) produce up to their own ~1e-13 round-off — at float32
cost; on 2048-d features one or two pairs per row need the recomputation. Float32 matmuls are
forced to full precision ("highest", no TF32/bf16) while we run, because the margin assumes a
24-bit mantissa.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch

ROWS = 1024  # rows per chunk when preparing a set (small float64 temporaries, cache-friendly)
CPU_TILE = 2048  # rows and columns of one distance tile on the CPU: small enough that the
# diagonal tiles of a symmetric pass waste little, large enough for full GEMM speed
GPU_TILE = 8192
PAIR_ELEMENTS = 1 << 22  # values gathered per chunk when recomputing pairs exactly (32 MiB f64)
UNIT_ROUNDOFF = 2.0**-24  # float32
INF = float("inf")


@contextlib.contextmanager
def full_precision_matmul() -> Iterator[None]:
    """The screening margin assumes true float32 products; TF32/bf16 would break it."""
    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(previous)


def tile_size(block: int | None, device: torch.device) -> int:
    if block is not None:
        return block
    return CPU_TILE if device.type == "cpu" else GPU_TILE


def squared_norms(x: torch.Tensor) -> torch.Tensor:
    """Row-wise sum of squares of a float64 matrix."""
    return torch.einsum("ij,ij->i", x, x)


@dataclass
class PointSet:
    """One point set as the tiles see it, prepared once for every pass over it: the original
    values, untouched (for exact recomputation), and, centred by `shift`, their float32 copy
    (the screen's GEMM operand) and float64 squared norms. Sets compared with each other must
    share one shift (`PointSet.of(y, like=xs)`)."""

    data: torch.Tensor  # (N, d) float32/float64 as given, on any device
    screen: torch.Tensor  # (N, d) float32 on `device`: data - shift, rounded once
    sq_norms: torch.Tensor  # (N,) float64 on `device`: |data - shift|^2
    shift: torch.Tensor  # (d,) float64 on `device`

    @classmethod
    def of(
        cls,
        data: torch.Tensor,
        *,
        like: PointSet | None = None,
        device: torch.device | str | None = None,
    ) -> PointSet:
        """Prepare `data` on `device` (default: its own), centred by its mean or, to be compared
        with `like`, by that set's shift and on that set's device."""
        if like is not None:
            device, shift = like.device, like.shift
        else:
            device = torch.device(device) if device is not None else data.device
            shift = _mean(data, device)
        screen = torch.empty(data.shape, dtype=torch.float32, device=device)
        norms = torch.empty(len(data), dtype=torch.float64, device=device)
        for lo in range(0, len(data), ROWS):  # small chunks: no full-size float64 temporary
            diff = data[lo : lo + ROWS].to(device, torch.float64) - shift
            norms[lo : lo + ROWS] = squared_norms(diff)
            screen[lo : lo + ROWS] = diff
        return cls(data, screen, norms, shift)

    @property
    def device(self) -> torch.device:
        return self.screen.device

    def __len__(self) -> int:
        return len(self.data)

    def rows64(self, index: torch.Tensor) -> torch.Tensor:
        """A fresh float64 copy of the given original rows (callers may modify it in place)."""
        return self.data[index.to(self.data.device)].to(self.device, torch.float64)


def _mean(data: torch.Tensor, device: torch.device) -> torch.Tensor:
    chunks = torch.split(data, ROWS * 4)
    return sum(chunk.to(device, torch.float64).sum(dim=0) for chunk in chunks) / len(data)


def tolerance(xs: PointSet, ys: PointSet) -> torch.Tensor:
    """Per row of x, a bound on |screened - exact| squared distance to any row of y: the
    float32 dot-product bound d*u*|x||y| <= d*u*(|x|^2+|y|^2)/2, doubled by the factor 2 in
    -2x.y, plus rounding of the inputs, norms and sums; 25% and 16u of headroom on top."""
    d = xs.data.shape[1]
    kappa = (1.25 * d + 16) * UNIT_ROUNDOFF
    return kappa * (xs.sq_norms + ys.sq_norms.max())


def tiles(
    xs: PointSet, ys: PointSet, block: int, symmetric: bool
) -> Iterator[tuple[int, int, int, int, torch.Tensor]]:
    """(a0, a1, b0, b1, screened squared distances of x[a0:a1] to y[b0:b1]) for every tile;
    with `symmetric` (y is x) only tiles on or above the diagonal. The tile is a view of one
    buffer reused for every tile (fresh multi-megabyte tensors would cost a page fault per
    4 KiB each time), valid until the next one is produced."""
    rows, cols = min(block, len(xs)), min(block, len(ys))
    buffer = torch.empty(rows * cols, dtype=torch.float32, device=xs.device)
    nx32, ny32 = xs.sq_norms.float(), ys.sq_norms.float()
    for a0 in range(0, len(xs), block):
        a1 = min(a0 + block, len(xs))
        xb = xs.screen[a0:a1]
        for b0 in range(a0 if symmetric else 0, len(ys), block):
            b1 = min(b0 + block, len(ys))
            d2 = buffer[: (a1 - a0) * (b1 - b0)].view(a1 - a0, b1 - b0)
            torch.addmm(ny32[None, b0:b1].expand_as(d2), xb, ys.screen[b0:b1].T, alpha=-2.0, out=d2)
            yield a0, a1, b0, b1, d2.add_(nx32[a0:a1, None])


def exact_sq_distances(
    xs: PointSet, ys: PointSet, rows: torch.Tensor, cols: torch.Tensor
) -> torch.Tensor:
    """sum((x[rows] - y[cols])^2) in float64 from the original values, in bounded chunks."""
    out = torch.empty(len(rows), dtype=torch.float64, device=xs.device)
    step = max(1, PAIR_ELEMENTS // xs.data.shape[1])
    for s in range(0, len(rows), step):
        diff = xs.rows64(rows[s : s + step]).sub_(ys.rows64(cols[s : s + step]))
        out[s : s + step] = squared_norms(diff)
    return out
