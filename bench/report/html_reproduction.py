"""The report's reproduction part: when `bench reproduce` has compared the run with its paper
(reproduction.json), each published value's verdict, first matching step and trend over training,
with the plot of bench's mean ± SE against steps and the published band (reproduction/*.png)."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from bench.report.html_sections import img, table
from bench.report.reproduction import PLOTS_DIR


def reproduction_section(run_dir: Path) -> str:
    """The section, or "" for a run that was never compared with published numbers."""
    found = Path(run_dir) / "reproduction.json"
    if not found.is_file():
        return ""
    record = json.loads(found.read_text())
    comparisons = record.get("comparisons", [])
    header = ["#", "entry", "published ± SE", "bench (final)", "verdict", "first match", "trend"]
    rows = [summary_row(i, c) for i, c in enumerate(comparisons, start=1)]
    plots = [plot_part(Path(run_dir), i, c) for i, c in enumerate(comparisons, start=1)]
    return (
        '<section id="reproduction"><h2>Reproduction over training</h2>'
        f'<p class="note">{escape(record.get("title", ""))}: every published value judged at each '
        "evaluation step (|z| ≤ the threshold matches); the final verdict is the last step's. "
        "Grey band: the published value ± its standard error.</p>"
        f"{table(header, rows)}{''.join(plots)}</section>"
    )


def summary_row(index: int, c: dict[str, Any]) -> list[str]:
    bench = "—" if c.get("bench_mean") is None else f"{c['bench_mean']:.4g} (n={c.get('n')})"
    first = c.get("first_match_step")
    return [
        str(index),
        f"{c.get('model')} / {c.get('dataset')} / {c.get('metric')}",
        f"{c.get('published'):.4g} ± {c.get('published_se') or 0:.2g}",
        bench,
        str(c.get("verdict")),
        "never" if first is None else str(first),
        str(c.get("trend") or "—"),
    ]


def plot_part(run_dir: Path, index: int, c: dict[str, Any]) -> str:
    """The entry's plot (written by bench reproduce, numbered by row), inlined; "" without one."""
    found = sorted((run_dir / PLOTS_DIR).glob(f"{index:02d}-*.png"))
    if not found:
        return ""
    caption = f"{index}. {c.get('model')} / {c.get('dataset')} / {c.get('metric')}"
    return (
        f'<figure class="plot">{img(found[0].read_bytes(), caption)}'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )
