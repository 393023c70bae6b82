"""Plots and tables: sample pictures and the leaderboard as markdown or a terminal table."""

from __future__ import annotations

import io
import math

import numpy as np
import torch

from bench.data import DataInfo
from bench.sensitivity import sensitivity_markdown

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


# --- latent traversal -------------------------------------------------------------------------

TRAVERSAL_UNITS = 10  # rows: the latent units that vary most under the model's sampler
TRAVERSAL_STEPS = 9  # columns: from -TRAVERSAL_SPREAD to +TRAVERSAL_SPREAD stds of that unit
TRAVERSAL_SPREAD = 2.5
TRAVERSAL_PROBE = 1000  # codes drawn to measure each unit's centre and spread


def latent_traversal(model, info: DataInfo, generator: torch.Generator) -> np.ndarray | None:
    """Decoded latent traversals (rows x steps, *info.shape): one code drawn from the model's
    sampler (its prior, or the density fitted on its codes); row r sweeps one unit from its
    centre - 2.5 std to + 2.5 std, the other units held. None for non-image data or a model
    without `sample_codes` and `decode` (e.g. a GAN)."""
    from bench.models.nets import inference

    sample_codes, decode = getattr(model, "sample_codes", None), getattr(model, "decode", None)
    if info.kind != "image" or not (callable(sample_codes) and callable(decode)):
        return None
    with inference(model):
        probe = sample_codes(TRAVERSAL_PROBE, generator)
        centre, spread = probe.mean(0), probe.std(0)
        units = spread.argsort(descending=True)[:TRAVERSAL_UNITS]
        unit = units.repeat_interleave(TRAVERSAL_STEPS)
        offsets = torch.linspace(-TRAVERSAL_SPREAD, TRAVERSAL_SPREAD, TRAVERSAL_STEPS)
        offsets = offsets.to(probe.device).repeat(len(units))
        codes = probe[:1].repeat(len(unit), 1)
        rows = torch.arange(len(unit), device=probe.device)
        codes[rows, unit] = centre[unit] + offsets * spread[unit]
        images = decode(codes)
    return images.detach().cpu().float().numpy()


def latent_traversal_png(model, info: DataInfo, generator: torch.Generator) -> bytes | None:
    """PNG bytes of `latent_traversal` as a grid, one unit per row; None where it is None."""
    images = latent_traversal(model, info, generator)
    if images is None:
        return None
    plt = pyplot()
    return png_bytes(plt, _grid(plt, images, None, cols=TRAVERSAL_STEPS))


# --- leaderboard ------------------------------------------------------------------------------

ARROWS = {"min": "↓", "max": "↑"}
TERMINAL_KEYS = 6  # metric columns a terminal table shows; the files have them all


def mean_std(row, key: str) -> str:
    """'mean ± std' over a row's seeds; the std needs two seeds."""
    n = len(row.values.get(key, []))
    if n == 0:
        return "—"
    if n == 1:
        return f"{row.mean(key):.4g}"
    return f"{row.mean(key):.4g} ± {row.std(key):.2g}"


def leaderboard_cells(
    board, dataset: str, keys: list[str] | None = None
) -> tuple[list[str], list[list[str]]]:
    """Header and rows of one dataset's table (its metrics unless `keys` are given), shared by
    markdown and the terminal."""
    keys = board.keys_for(dataset) if keys is None else keys
    arrows = {**board.directions, **board.stability}
    header = ["rank", "model", "variant", "seeds ok"] + [f"{k} {ARROWS[arrows[k]]}" for k in keys]
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
    lines += stability_markdown(board)
    lines += sensitivity_markdown(board.sensitivity, board.directions)
    errors = [e for row in board.rows for e in row.errors]
    if errors:
        lines += ["## Trials that did not complete", ""] + [f"- {e}" for e in errors] + [""]
    return "\n".join(lines)


def stability_markdown(board) -> list[str]:
    """Per dataset, the training-stability statistics of every row (completed and diverged
    seeds), as defined in bench.metrics.stability."""
    lines: list[str] = []
    for dataset in board.datasets():
        keys = board.stability_keys_for(dataset)
        if not keys:
            continue
        header, rows = leaderboard_cells(board, dataset, keys)
        lines += [f"## Training stability: {dataset}", "", "| " + " | ".join(header) + " |"]
        lines.append("|" + "---|" * len(header))
        lines += ["| " + " | ".join(cells) + " |" for cells in rows]
        lines.append("")
    return lines


def print_leaderboard(board, console) -> None:
    from rich.markup import escape
    from rich.table import Table

    console.print(f"[bold]Leaderboard: {board.title}[/bold]")
    if board.incomplete:
        console.print(f"[yellow]incomplete: {board.incomplete}[/yellow]")
    for dataset in board.datasets():
        keys = [k for k in board.keys_for(dataset) if not k.endswith("_std")]
        header, rows = leaderboard_cells(board, dataset, keys[:TERMINAL_KEYS])
        hidden = len(keys) - TERMINAL_KEYS
        note = f" (+{hidden} more metrics in leaderboard.md / .csv)" if hidden > 0 else ""
        table = Table(title=dataset + note, title_justify="left")
        for name in header:
            table.add_column(name, overflow="fold")
        for cells in rows:
            table.add_row(*cells)
        console.print(table)
    for error in (e for row in board.rows for e in row.errors):
        console.print(f"[red]not completed[/red] {escape(error)}", highlight=False)
