"""Plots and tables: sample pictures and the leaderboard as markdown or a terminal table."""

from __future__ import annotations

import io
import math

import numpy as np
import torch

from bench.data import DataInfo

PREVIEW_IMAGES = 64  # a grid of 8 x 8
PREVIEW_POINTS = 2000


def preview(samples: torch.Tensor | None, info: DataInfo) -> np.ndarray | None:
    """The few samples a trial sends back for its picture (the rest never leave the worker)."""
    if samples is None:
        return None
    keep = PREVIEW_IMAGES if info.kind == "image" else PREVIEW_POINTS
    return samples[:keep].numpy()


def samples_png(samples: np.ndarray, info: DataInfo, reference: np.ndarray | None = None) -> bytes:
    """PNG bytes: a scatter over the real data for 2-D points, an image grid otherwise."""
    plt = pyplot()
    draw = _scatter if info.kind == "points" else _grid
    fig = draw(plt, samples, reference)
    return png_bytes(plt, fig)


def png_bytes(plt, fig) -> bytes:
    """Render and close a matplotlib figure."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def pyplot():
    """matplotlib's pyplot on the file-only Agg backend (workers have no display)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    return plt


def _scatter(plt, samples: np.ndarray, reference: np.ndarray | None):
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(samples[:, 0], samples[:, 1], s=2, c="tab:blue", alpha=0.5, label="generated")
    if reference is not None:  # on top: tight real modes would vanish under the samples
        ax.scatter(reference[:, 0], reference[:, 1], s=1, c="tab:orange", label="real")
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(loc="upper right", markerscale=4)
    return fig


def _grid(plt, samples: np.ndarray, reference: np.ndarray | None, cols: int | None = None):
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


# --- leaderboard ------------------------------------------------------------------------------

ARROWS = {"min": "↓", "max": "↑"}


def mean_std(row, key: str) -> str:
    """'mean ± std' over a row's seeds; the std needs two seeds."""
    n = len(row.values.get(key, []))
    if n == 0:
        return "—"
    if n == 1:
        return f"{row.mean(key):.4g}"
    return f"{row.mean(key):.4g} ± {row.std(key):.2g}"


def leaderboard_cells(board, dataset: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of one dataset's table, shared by markdown and the terminal."""
    keys = board.keys_for(dataset)
    header = ["rank", "model", "variant", "seeds ok"] + [
        f"{k} {ARROWS[board.directions[k]]}" for k in keys
    ]
    rows = []
    for row in (r for r in board.rows if r.dataset == dataset):
        cells = [str(row.rank or "—"), row.model, row.variant, f"{row.completed}/{row.seeds}"]
        rows.append(cells + [mean_std(row, k) for k in keys])
    return header, rows


def leaderboard_markdown(board) -> str:
    lines = [f"# Leaderboard: {board.title}", ""]
    if board.incomplete:
        lines += [f"> incomplete: {board.incomplete}", ""]
    lines += ["Final metrics, mean ± std over completed seeds (↓ lower is better, ↑ higher).", ""]
    for dataset in board.datasets():
        header, rows = leaderboard_cells(board, dataset)
        lines += [f"## {dataset}", "", "| " + " | ".join(header) + " |"]
        lines.append("|" + "---|" * len(header))
        lines += ["| " + " | ".join(cells) + " |" for cells in rows]
        lines.append("")
    errors = [e for row in board.rows for e in row.errors]
    if errors:
        lines += ["## Trials that did not complete", ""] + [f"- {e}" for e in errors] + [""]
    return "\n".join(lines)


def print_leaderboard(board, console) -> None:
    from rich.markup import escape
    from rich.table import Table

    console.print(f"[bold]Leaderboard: {board.title}[/bold]")
    if board.incomplete:
        console.print(f"[yellow]incomplete: {board.incomplete}[/yellow]")
    for dataset in board.datasets():
        header, rows = leaderboard_cells(board, dataset)
        table = Table(title=dataset, title_justify="left")
        for name in header:
            table.add_column(name, overflow="fold")
        for cells in rows:
            table.add_row(*cells)
        console.print(table)
    for error in (e for row in board.rows for e in row.errors):
        console.print(f"[red]not completed[/red] {escape(error)}", highlight=False)
