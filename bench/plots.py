"""Plot primitives (matplotlib, file-only Agg backend): a 2-D scatter over the real data, an image
grid, curves with ± bands against training steps, PNG bytes. The worker's trial pictures and the
reports both draw with these."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bench.data.base import DataInfo


def pyplot():
    """matplotlib's pyplot on the file-only Agg backend (workers have no display)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    return plt


def png_bytes(plt, fig) -> bytes:
    """Render and close a matplotlib figure."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def samples_png(samples: np.ndarray, info: DataInfo, reference: np.ndarray | None = None) -> bytes:
    """PNG bytes: a scatter over the real data for 2-D points, an image grid otherwise."""
    plt = pyplot()
    draw = scatter if info.kind == "points" else image_grid
    fig = draw(plt, samples, reference)
    return png_bytes(plt, fig)


def scatter(plt, samples: np.ndarray, reference: np.ndarray | None):
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(samples[:, 0], samples[:, 1], s=2, c="tab:blue", alpha=0.5, label="generated")
    if reference is not None:  # on top: tight real modes would vanish under the samples
        ax.scatter(reference[:, 0], reference[:, 1], s=1, c="tab:orange", label="real")
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(loc="upper right", markerscale=4)
    return fig


def image_grid(plt, samples: np.ndarray, reference: np.ndarray | None, cols: int | None = None):
    """Images tiled row by row, `cols` per row (default: as square as possible)."""
    n = len(samples)
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    channels, height, width = samples.shape[1:]
    canvas = np.ones((rows * (height + 1), cols * (width + 1), channels))
    for i, image in enumerate(np.clip(samples, 0.0, 1.0)):
        r, c = divmod(i, cols)
        canvas[
            r * (height + 1) : r * (height + 1) + height, c * (width + 1) : c * (width + 1) + width
        ] = image.transpose(1, 2, 0)
    fig, ax = plt.subplots(figsize=(cols * 0.6, rows * 0.6))
    ax.imshow(canvas.squeeze(-1) if channels == 1 else canvas, cmap="gray", vmin=0, vmax=1)
    ax.axis("off")
    return fig


@dataclass
class Band:
    """One line of a curve plot: a value against training steps with a spread around it (the
    std over seeds, a standard error, ...); `spread` None draws the line alone."""

    label: str
    steps: Sequence[float]
    mean: Sequence[float]
    spread: Sequence[float] | None = None


@dataclass
class Reference:
    """A horizontal value with its uncertainty, e.g. a published number ± its standard error."""

    label: str
    value: float
    spread: float = 0.0


def curves_png(
    bands: Sequence[Band],
    *,
    title: str,
    ylabel: str,
    xlabel: str = "training step",
    log_x: bool = False,
    reference: Reference | None = None,
) -> bytes:
    """PNG bytes of lines with shaded ± spread bands against steps, and an optional reference
    band across the whole x range (drawn first, so the measurements stay on top)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    if reference is not None:
        ax.axhline(reference.value, color="black", lw=1, ls="--", label=reference.label)
        if reference.spread > 0:
            low, high = reference.value - reference.spread, reference.value + reference.spread
            ax.axhspan(low, high, color="black", alpha=0.12)
    for band in bands:
        steps, mean = np.asarray(band.steps, float), np.asarray(band.mean, float)
        (line,) = ax.plot(steps, mean, marker="o", ms=3, lw=1.5, label=band.label)
        if band.spread is not None:
            spread = np.nan_to_num(np.asarray(band.spread, float))
            ax.fill_between(steps, mean - spread, mean + spread, color=line.get_color(), alpha=0.2)
    if log_x:
        ax.set_xscale("log")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return png_bytes(plt, fig)


@dataclass
class Panel:
    """One axes of a multi-panel figure: bands against a shared x (training steps, or the values
    of a hyperparameter; `xticks` names categorical positions 0, 1, …)."""

    title: str
    bands: Sequence[Band]
    ylabel: str = ""
    xlabel: str = "training step"
    log_x: bool = False
    log_y: bool = False
    xticks: Sequence[str] | None = None


def panels_png(panels: Sequence[Panel], cols: int = 3) -> bytes:
    """PNG bytes of several small curve plots side by side, `cols` per row: one image per group
    of related curves keeps a report's figures few (each figure costs a render) and aligned."""
    plt = pyplot()
    cols = max(1, min(cols, len(panels)))
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    for ax, panel in zip(axes.flat, panels, strict=False):
        draw_panel(ax, panel)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    fig.tight_layout()
    return png_bytes(plt, fig)


def draw_panel(ax, panel: Panel) -> None:
    for band in panel.bands:
        steps, mean = np.asarray(band.steps, float), np.asarray(band.mean, float)
        marker = "o" if len(steps) <= 30 else None  # markers only where points are few
        (line,) = ax.plot(steps, mean, marker=marker, ms=3, lw=1.3, label=band.label)
        if band.spread is not None:
            spread = np.nan_to_num(np.asarray(band.spread, float))
            low = mean - spread
            if panel.log_y:  # a band below zero has no place on a log axis: stop it at mean/10
                low = np.maximum(low, mean / 10)
            ax.fill_between(steps, low, mean + spread, color=line.get_color(), alpha=0.2)
    if panel.log_x:
        ax.set_xscale("log")
    if panel.log_y:
        ax.set_yscale("log")
    if panel.xticks is not None:
        ax.set_xticks(range(len(panel.xticks)), panel.xticks, rotation=20, fontsize=7)
    ax.set_title(panel.title, fontsize=9)
    ax.set(xlabel=panel.xlabel, ylabel=panel.ylabel)
    ax.grid(alpha=0.3)
    if panel.bands:
        ax.legend(fontsize=6)
