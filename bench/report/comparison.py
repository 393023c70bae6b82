"""bench compare's comparison as tables: plain rows (CSV, a wandb table), the strings every
renderer shows (terminal, markdown, HTML), and the verdict a reader takes from each line."""

from __future__ import annotations

import csv
import io
import math
from typing import Any

from bench.direction import gain
from bench.report.markdown import ARROWS
from bench.results.comparison import ALPHA, MISSING, SIGNIFICANT, Comparison, Line, Stat, Versus


def verdict(line: Line, v: Versus) -> str:
    """What a reader takes from one comparison: loud when the protocols differ."""
    n = f"n={v.n[0]}/{v.n[1]}"
    if v.protocol.blocks:
        return f"NOT COMPARABLE: protocol {v.protocol.summary()}"
    if v.test.verdict == MISSING:
        return f"missing in {'A' if not v.n[0] else v.label}"
    if v.test.p is None:
        return f"{v.test.verdict} ({n})"
    turned = gain(v.difference or 0.0, line.direction)
    side = (
        f", {v.label} {'better' if turned > 0 else 'worse'}"
        if v.test.verdict == SIGNIFICANT
        else ""
    )
    return f"{v.test.verdict}{side} (p={v.test.p:.3g})"  # n is in each run's cell


def num(value: float | None, signed: bool = False) -> str:
    if value is None or math.isnan(value):
        return "—"
    return f"{value:+.4g}" if signed else f"{value:.4g}"


def stat_cell(stat: Stat) -> str:
    if not stat.n:
        return "—"
    spread = f" ± {stat.std:.2g}" if stat.n > 1 else ""
    return f"{stat.mean:.4g}{spread} (n={stat.n})"


def comparison_cells(comparison: Comparison, dataset: str) -> tuple[list[str], list[list[str]]]:
    """Header and string rows of one dataset's table, shared by markdown, terminal and HTML."""
    others = comparison.labels[1:]
    header = ["model", "variant", "metric", *comparison.labels]
    header += [h for lb in others for h in (f"{lb} − A", f"{lb} vs A")]
    rows = []
    for line in (x for x in comparison.lines if x.dataset == dataset):
        cells = [line.model, line.variant, f"{line.metric} {ARROWS[line.direction]}"]
        cells += [stat_cell(s) for s in line.stats]
        for v in line.versus:
            cells += [num(v.difference, signed=True), verdict(line, v)]
        rows.append(cells)
    return header, rows


def grouped(rows: list[list[str]]) -> list[list[str]]:
    """Rows whose model and variant repeat the line above's shown with those cells blank, so a
    reader sees one block per (model, variant); files keep every cell."""
    shown, previous = [], None
    for cells in rows:
        shown.append(["", "", *cells[2:]] if cells[:2] == previous else cells)
        previous = cells[:2]
    return shown


def loud(cell: str) -> bool:
    """Whether a verdict deserves a reader's eye: a significant change or incomparable numbers."""
    return cell.startswith((SIGNIFICANT + ",", "NOT COMPARABLE"))


def comparison_rows(comparison: Comparison) -> list[dict[str, Any]]:
    """The comparison as plain rows (numbers stay numbers; None where there is none), one per
    line: for CSV files and for a wandb table."""
    rows = []
    for line in comparison.lines:
        row: dict[str, Any] = {
            "dataset": line.dataset,
            "model": line.model,
            "variant": line.variant,
            "metric": line.metric,
            "better": line.direction,
        }
        for label, stat in zip(comparison.labels, line.stats, strict=True):
            row |= {f"{label} mean": nan_none(stat.mean), f"{label} std": nan_none(stat.std)}
            row[f"{label} n"] = stat.n
        for v in line.versus:
            vs = f"{v.label} vs A"
            row |= {f"{v.label} - A": v.difference, f"{vs} t": v.test.t, f"{vs} p": v.test.p}
            row |= {f"{vs} verdict": verdict(line, v), f"{vs} protocol": v.protocol.summary()}
        rows.append(row)
    return rows


def nan_none(value: float) -> float | None:
    return None if math.isnan(value) else value


def comparison_csv(comparison: Comparison) -> str:
    rows = comparison_rows(comparison)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else [], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def comparison_markdown(comparison: Comparison) -> str:
    lines = [f"# Comparison: {' vs '.join(comparison.labels)}", ""]
    lines += [f"- {note}" for note in comparison.notes] + [""]
    lines += [
        f"Mean ± std over completed seeds (n); differences are each run's mean minus run A's; "
        f"Welch's two-sided t-test over the seeds, significant at p < {ALPHA}.",
        "",
    ]
    for dataset in comparison.datasets():
        header, rows = comparison_cells(comparison, dataset)
        lines += [f"## {dataset}", ""]
        lines += [f"Protocol {p}." for p in comparison.protocols.get(dataset, [])] + [""]
        lines += ["| " + " | ".join(md(c) for c in header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(md(c) for c in cells) + " |" for cells in rows]
        lines.append("")
    return "\n".join(lines)


def md(cell: str) -> str:
    return cell.replace("|", "\\|")
