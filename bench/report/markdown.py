"""The leaderboard as markdown (leaderboard.md): one ranked table per dataset, the training
stability tables, hyperparameter sensitivity and the trials that did not complete."""

from __future__ import annotations

from pathlib import Path

from bench.io import write_text
from bench.results.sensitivity import Sensitivity

ARROWS = {"min": "↓", "max": "↑"}


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
    header = ["rank", "model", "variant", "seeds ok"]
    header += [f"{k} {ARROWS[board.direction(k)]}" for k in keys]
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
    lines += sections_markdown(board)
    lines += sensitivity_markdown(board.sensitivity, board.directions)
    errors = [e for row in board.rows for e in row.errors]
    if errors:
        lines += ["## Trials that did not complete", ""] + [f"- {e}" for e in errors] + [""]
    return "\n".join(lines)


def sections_markdown(board) -> list[str]:
    """Per section (e.g. "Training stability": completed and diverged seeds, as defined in
    bench.metrics.stability) and dataset, one table of every row."""
    lines: list[str] = []
    for section, dataset in ((s, d) for s in board.sections for d in board.datasets()):
        keys = board.keys_for(dataset, section)
        if not keys:
            continue
        header, rows = leaderboard_cells(board, dataset, keys)
        lines += [f"## {section}: {dataset}", "", "| " + " | ".join(header) + " |"]
        lines.append("|" + "---|" * len(header))
        lines += ["| " + " | ".join(cells) + " |" for cells in rows]
        lines.append("")
    return lines


def sensitivity_markdown(items: list[Sensitivity], directions: dict[str, str]) -> list[str]:
    """Markdown lines of the sensitivity section (empty when no grid varies anything)."""
    if not items:
        return []
    lines = [
        "## Hyperparameter sensitivity",
        "",
        "Mean final score per value of each grid hyperparameter (over the other grid axes and "
        "the seeds); *range* is the largest minus the smallest mean.",
        "",
        "| dataset | model | hyperparameter | metric | mean per value | range |",
        "|---|---|---|---|---|---|",
    ]
    for s in items:
        better = max if directions.get(s.metric) == "max" else min
        top = better(s.means, key=s.means.__getitem__)
        per_value = ", ".join(
            f"{'**' if k == top else ''}{k}: {v:.4g}{'**' if k == top else ''} (n={s.counts[k]})"
            for k, v in s.means.items()
        )
        lines.append(
            f"| {s.dataset} | {s.model} | {s.hparam} | {s.metric} | {per_value} | {s.spread:.4g} |"
        )
    return lines + [""]


def write_leaderboard(folder: Path, board) -> None:
    """leaderboard.csv and leaderboard.md into a run folder (atomically)."""
    write_text(Path(folder) / "leaderboard.csv", board.to_csv())
    write_text(Path(folder) / "leaderboard.md", leaderboard_markdown(board))
