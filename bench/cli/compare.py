"""`bench compare`: two or more runs side by side, with Welch's t-test of each against the first."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from bench.cli.common import app, out, user_errors
from bench.errors import BenchError


@app.command()
@user_errors
def compare(
    runs: Annotated[
        list[Path],
        typer.Argument(
            help="two or more run folders (or results/<suite> for its newest run); the first is "
            "the baseline every other run is compared with"
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="also write the comparison to FILE.md or FILE.csv"),
    ] = None,
) -> None:
    """Compare runs row by row: mean ± std per run, difference, Welch's t-test (α = 0.05)."""
    from bench.results.comparison import compare_runs
    from bench.results.runs import load_run

    render = writer_for(output)
    if len(runs) < 2:
        raise BenchError(
            "bench compare needs at least two runs", fix="give two or more run folders"
        )
    comparison = compare_runs([load_run(path) for path in runs])
    print_comparison(comparison)
    if output is not None:
        from bench.io import write_text

        write_text(output, render(comparison))
        out.print(f"written: {output}")


def writer_for(output: Path | None):
    """The renderer of `-o`'s suffix, checked before any run is read."""
    from bench.report.comparison import comparison_csv, comparison_markdown

    writers = {".md": comparison_markdown, ".csv": comparison_csv}
    if output is None:
        return None
    if output.suffix.lower() not in writers:
        raise BenchError(
            f"cannot tell the format of {output} from its suffix",
            where="-o/--output",
            fix="name a .md or a .csv file",
        )
    return writers[output.suffix.lower()]


def print_comparison(comparison) -> None:
    from bench.report.comparison import comparison_cells, grouped, loud
    from bench.results.comparison import ALPHA

    for note in comparison.notes:
        out.print(f"- {escape(note)}", highlight=False)
    out.print(
        f"mean ± std (n) over completed seeds; differences against run A; Welch's t-test, "
        f"significant at p < {ALPHA}",
        highlight=False,
    )
    for dataset in comparison.datasets():
        header, rows = comparison_cells(comparison, dataset)
        caption = " · ".join(comparison.protocols.get(dataset, []))
        table = Table(title=dataset, title_justify="left", caption=f"protocol {caption}")
        for name in header:
            table.add_column(escape(name), overflow="fold")
        for cells in grouped(rows):
            if cells[0] and table.row_count:
                table.add_section()  # one block of lines per (model, variant)
            table.add_row(*(f"[bold]{escape(c)}[/bold]" if loud(c) else escape(c) for c in cells))
        out.print(table)
