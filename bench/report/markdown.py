"""The leaderboard as markdown (leaderboard.md): one ranked table per dataset (final scores and
the best score of the ranking metric with its step), what the trials cost in time, the training
stability tables, hyperparameter sensitivity and the trials that did not complete."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

from bench.direction import ARROWS
from bench.io import write_text
from bench.report.agreement import agreement_markdown
from bench.report.families import family_tables
from bench.results.sensitivity import Sensitivity


def mean_std(row, key: str) -> str:
    """'mean ± std' over a row's seeds; the std needs two seeds."""
    n = len(row.values.get(key, []))
    if n == 0:
        return "—"
    if n == 1:
        return f"{row.mean(key):.4g}"
    return f"{row.mean(key):.4g} ± {row.std(key):.2g}"


def best_cell(row, spread: bool = True) -> str:
    """The best value of the ranking metric over each seed's evaluations, mean ± std over the
    seeds (without the std when not `spread`), and each seed's step of it:
    '0.41 ± 0.03 (1000, 1500)'."""
    best = row.best()
    if not best:
        return "—"
    values = [value for value, _ in best]
    shown = f"{statistics.fmean(values):.4g}"
    if len(values) > 1 and spread:
        shown += f" ± {statistics.stdev(values):.2g}"
    return f"{shown} ({', '.join(str(step) for _, step in best)})"


def leaderboard_cells(
    board,
    dataset: str,
    keys: list[str] | None = None,
    best: bool = False,
    spread: bool = True,
    members: list | None = None,
) -> tuple[list[str], list[list[str]]]:
    """Header and rows of one dataset's table (its metrics unless `keys` are given, then the best
    of the ranking metric when `best`, its std over seeds when `spread`; all its rows unless
    `members` are given), shared by markdown and the terminal."""
    keys = board.keys_for(dataset) if keys is None else keys
    members = [r for r in board.rows if r.dataset == dataset] if members is None else members
    primary = next((r for r in members if r.primary and r.direction), None)
    header = ["rank", "model", "variant", "seeds ok"]
    header += [f"{k} {ARROWS[board.direction(k)]}" for k in keys]
    if best and primary is not None:
        header.append(f"best {primary.primary} {ARROWS[primary.direction]} (step)")
    rows = []
    for row in members:
        cells = [str(row.rank or "—"), row.model, row.variant, f"{row.completed}/{row.seeds}"]
        cells += [mean_std(row, k) for k in keys]
        rows.append(cells + ([best_cell(row, spread)] if best and primary is not None else []))
    return header, rows


def seconds(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.3g}" if value < 10 else f"{value:.0f}"


def cost_cells(row) -> list[str]:
    """s per trial, steps/s, share of the time evaluating, the most expensive metric."""
    share = row.cost("evaluate_share")
    top = row.top_metric()
    return [
        seconds(row.cost("wall_s")),
        seconds(row.cost("steps_per_s")),
        "—" if math.isnan(share) else "<1%" if share < 0.005 else f"{share:.0%}",
        f"{top[0]} ({seconds(top[1])} s)" if top else "—",
    ]


COST_HEADER = ["model", "variant", "s per trial", "steps/s", "evaluating", "most expensive metric"]


def leaderboard_markdown(board) -> str:
    lines = [f"# Leaderboard: {board.title}", ""]
    if board.incomplete:
        lines += [f"> incomplete: {board.incomplete}", ""]
    lines += ["Final metrics, mean ± std over completed seeds (↓ lower is better, ↑ higher).", ""]
    for dataset in board.datasets():
        header, rows = leaderboard_cells(board, dataset, best=True)
        lines += [f"## {dataset}", ""] + protocol_lines(board.protocol(dataset))
        lines += table(header, rows)
    lines += cost_markdown(board)
    lines += sections_markdown(board)
    lines += sensitivity_markdown(board.sensitivity, board.directions)
    lines += agreement_markdown(board)
    errors = [e for row in board.rows for e in row.errors]
    if errors:
        lines += ["## Trials that did not complete", ""] + [f"- {e}" for e in errors] + [""]
    return "\n".join(lines)


def protocol_lines(protocol: dict) -> list[str]:
    """The measurement protocol as one line under a dataset's heading (nothing for runs that
    did not record it)."""
    if not protocol:
        return []
    versions = protocol.get("versions")
    versions = (
        ", ".join(f"{k} {v}" for k, v in versions.items())
        if isinstance(versions, dict)
        else str(versions)
    )
    settings = [f"{k}={v}" for k, v in protocol.items() if "." in k]
    text = (
        f"Protocol: `{protocol.get('feature_space')}` feature space (extractor "
        f"{protocol.get('extractor')}), {protocol.get('n_generated')} generated vs "
        f"{protocol.get('n_reference')} reference samples ({protocol.get('reference_split')}), "
        f"{protocol.get('n_heldout')} held out"
    )
    text += "; " + ", ".join(settings) if settings else ""
    return [f"{text}; {versions}.", ""]


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(cells) + " |" for cells in rows] + [""]


def cost_markdown(board) -> list[str]:
    """Per dataset, what each row's trials cost: wall seconds per trial and training steps per
    second (means over the completed seeds), the share of the time spent evaluating, and the
    metric that took longest (with its seconds per trial; `eval_samples` drives it)."""
    lines: list[str] = []
    for dataset in board.datasets():
        rows = [
            [row.model, row.variant, *cost_cells(row)]
            for row in board.rows
            if row.dataset == dataset and row.runs
        ]
        if rows:
            lines += [f"## Cost: {dataset}", ""] + table(COST_HEADER, rows)
    if lines:
        lines[2:2] = [
            "Mean over completed seeds of each trial's wall time, its training steps per second "
            "(training time only), the share of its time spent evaluating, and the metric that "
            "took longest.",
            "",
        ]
    return lines


def sections_markdown(board) -> list[str]:
    """Per section (e.g. "Training stability": completed and diverged seeds, as defined in
    bench.metrics.stability) and dataset, one table per model family with the keys its rows have
    (bench.report.families, as the HTML report groups them)."""
    lines: list[str] = []
    for section, dataset in ((s, d) for s in board.sections for d in board.datasets()):
        tables = family_tables(board, dataset, section)
        lines += [f"## {section}: {dataset}", ""] if tables else []
        for group in tables:
            header, rows = leaderboard_cells(board, dataset, group.keys, members=group.rows)
            lines += [f"### {group.heading}", ""] + table(header, rows)
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
