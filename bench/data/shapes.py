"""Procedural shapes with known factors of variation, in the spirit of dSprites (Matthey et al.
2017): white shapes on black, rendered for every combination of five factors — shape, scale,
rotation, x and y position — so disentanglement metrics can compare a model's codes with the
true factors. Small enough (20x20, 7,680 images by default) that a VAE trains on one CPU core in
minutes; rendered in `load()` from geometry alone, nothing is downloaded.

Every shape fits the unit disc of its own frame; its radius in the image is `MAX_RADIUS` of the
side times a scale in [0.5, 1] (dSprites' scale range), and its centre keeps the disc inside the
frame, so no position clips a shape. Rotation index r of R turns a shape by r/R of its symmetry
period (square 90°, ellipse 180°, triangle 120°, heart 360°): unlike dSprites, whose full turn
renders a square at 0° and 90° identically, every factor combination gives a distinct image, so
every factor can be read from the pixels and no held-out image repeats a training one."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from pydantic import Field

from bench.data.base import DATASETS, DataInfo, Dataset, DatasetParams, DataSplits, EvalSpec, split

Inside = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

FACTOR_NAMES = ("shape", "scale", "rotation", "x", "y")
MAX_RADIUS = 0.25  # the largest shape's bounding disc, as a share of the image side
MIN_SCALE = 0.5  # the smallest scale relative to the largest (dSprites: 0.5 to 1)
SUPERSAMPLE = 4  # anti-aliasing: each pixel is the covered share of a 4x4 grid of sub-pixels
CHUNK = 128  # images rendered at once


def square(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Axis-aligned square with its corners on the unit circle."""
    return torch.maximum(x.abs(), y.abs()) <= math.sqrt(0.5)


def ellipse(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Ellipse with semi-axes 1 (horizontal) and 0.5, elongated as dSprites' is."""
    return x**2 + (2 * y) ** 2 <= 1


def heart(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The curve (u² + v² - 1)³ ≤ u² v³, point down. Its smallest enclosing circle has centre
    (0, 0.25) and radius 1.25 (the tip at (0, -1)), hence the change of frame."""
    u, v = 1.25 * x, 1.25 * y + 0.25
    return (u**2 + v**2 - 1) ** 3 <= u**2 * v**3


def triangle(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Equilateral triangle inscribed in the unit circle, apex up: inside all three edges, each
    at distance 0.5 (the inradius) from the centre."""
    edges = [math.radians(a) for a in (270.0, 30.0, 150.0)]  # outward normals of the edges
    return torch.stack([x * math.cos(a) + y * math.sin(a) <= 0.5 for a in edges]).all(0)


# name -> (inside test in the shape's frame, rotation period in degrees). The dataset uses the
# first n_shapes of them, in this order (dSprites' three first).
SHAPES: dict[str, tuple[Inside, float]] = {
    "square": (square, 90.0),
    "ellipse": (ellipse, 180.0),
    "heart": (heart, 360.0),
    "triangle": (triangle, 120.0),
}


class ShapesParams(DatasetParams):
    resolution: int = Field(20, ge=8, le=64, description="side of the square images in pixels")
    n_shapes: int = Field(
        3, ge=1, le=len(SHAPES), description="shapes used, in the order " + ", ".join(SHAPES)
    )
    n_scales: int = Field(5, ge=1, le=16, description="scales, evenly spaced in [0.5, 1]")
    n_rotations: int = Field(
        8, ge=1, le=40, description="rotations, evenly spaced over each shape's symmetry period"
    )
    n_positions: int = Field(8, ge=1, le=32, description="x positions, and as many y positions")


def factor_sizes(p: ShapesParams) -> tuple[int, ...]:
    """Values of each factor, in the order of FACTOR_NAMES."""
    return (p.n_shapes, p.n_scales, p.n_rotations, p.n_positions, p.n_positions)


def all_factors(sizes: tuple[int, ...]) -> torch.Tensor:
    """(N, K) int64 factor indices of the full factorial product, the last factor fastest."""
    grids = torch.meshgrid(*[torch.arange(n) for n in sizes], indexing="ij")
    return torch.stack([g.reshape(-1) for g in grids], dim=1)


def spaced(low: float, high: float, n: int) -> torch.Tensor:
    """n evenly spaced values from low to high (the midpoint when n is 1), float32."""
    if n == 1:
        return torch.tensor([(low + high) / 2], dtype=torch.float32)
    return torch.linspace(low, high, n, dtype=torch.float32)


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one thread, then restore the setting. Rendering is many small element-wise
    ops, and on a busy machine torch's threads wait on each other more than they work (the
    default set renders in 0.5 s on one thread, 2 to 9 s on two shared cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def render(factors: torch.Tensor, p: ShapesParams) -> torch.Tensor:
    """(N, 1, res, res) float32 images in [0, 1] of the given factor rows, in chunks of CHUNK
    rows (the sub-pixel grids of a chunk stay small enough to be fast)."""
    out = torch.empty(len(factors), 1, p.resolution, p.resolution)
    with one_thread():
        for start in range(0, len(factors), CHUNK):
            out[start : start + CHUNK, 0] = render_chunk(factors[start : start + CHUNK], p)
    return out


def render_chunk(factors: torch.Tensor, p: ShapesParams) -> torch.Tensor:
    """(n, res, res) images: each pixel is the share of its sub-pixel centres inside the shape,
    taken in the shape's frame (centred, divided by the radius, turned back by the rotation)."""
    res, ss = p.resolution, SUPERSAMPLE
    sub = (torch.arange(res * ss, dtype=torch.float32) + 0.5) / (res * ss)  # sub-pixel centres
    radius = MAX_RADIUS * spaced(MIN_SCALE, 1.0, p.n_scales)
    centre = spaced(MAX_RADIUS, 1.0 - MAX_RADIUS, p.n_positions)
    shapes = list(SHAPES.values())
    periods = torch.tensor([period for _, period in shapes])
    angle = torch.deg2rad(factors[:, 2] * periods[factors[:, 0]] / p.n_rotations)
    cos, sin = torch.cos(angle)[:, None, None], torch.sin(angle)[:, None, None]
    r = radius[factors[:, 1]][:, None, None]
    dx = (sub[None, None, :] - centre[factors[:, 3]][:, None, None]) / r  # columns, rightwards
    dy = (centre[factors[:, 4]][:, None, None] - sub[None, :, None]) / r  # rows, y points up
    u, v = cos * dx + sin * dy, cos * dy - sin * dx  # turned by -angle
    covered = torch.zeros(len(factors), res * ss, res * ss)
    for s, (inside, _) in enumerate(shapes):
        rows = factors[:, 0] == s
        if rows.any():
            covered[rows] = inside(u[rows], v[rows]).float()
    return covered.reshape(len(factors), res, ss, res, ss).mean(dim=(2, 4))


@DATASETS.register("shapes")
class Shapes(Dataset):
    description = (
        "procedural dSprites-like shapes (square, ellipse, heart), white on black, 20x20: every "
        "combination of 5 known factors (shape, scale, rotation, x, y), 7,680 images by default"
    )
    Params = ShapesParams
    params: ShapesParams

    @property
    def info(self) -> DataInfo:
        side = self.params.resolution
        return DataInfo(
            shape=(1, side, side),
            kind="image",
            value_range=(0.0, 1.0),
            factor_names=FACTOR_NAMES,
            factor_sizes=factor_sizes(self.params),
        )

    @property
    def eval_spec(self) -> EvalSpec:
        # Pixels: a few hundred dimensions, and no existing learned space sees these factors (the
        # domain classifier needs class labels and would learn shape alone, blind to position).
        return EvalSpec(feature_space="raw")

    def load(self) -> DataSplits:
        factors = all_factors(factor_sizes(self.params))
        images = render(factors, self.params)
        return split(images, None, self.params, factors=factors)
