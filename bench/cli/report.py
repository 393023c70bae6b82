"""`bench report`: one self-contained HTML file of one or more runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bench.cli.common import app, out, user_errors


@app.command()
@user_errors
def report(
    runs: Annotated[
        list[Path],
        typer.Argument(
            help="one or more run folders (or results/<suite> for its newest run); with several, "
            "the report compares them against the first"
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "-o", "--output", help="the HTML file to write (default: RUN_DIR/report.html)"
        ),
    ] = None,
) -> None:
    """Write an HTML report: leaderboards, curves, stability, sensitivity, pictures, protocol."""
    from bench.report.html import write_report

    path = write_report(runs, output)
    out.print(f"written: {path}")
