"""Plot primitives (matplotlib, file-only Agg backend): a 2-D scatter over the real data, an image
grid, PNG bytes. The worker's trial pictures and the reports both draw with these."""

from __future__ import annotations

import io
import math

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
