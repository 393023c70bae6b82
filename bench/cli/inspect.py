"""Commands that read and never train: `bench validate`, `bench list`, `bench leaderboard`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from bench.cli.common import (
    EXIT_USAGE,
    BoardFormat,
    Kind,
    ListFormat,
    app,
    out,
    print_error,
    user_errors,
)
from bench.direction import WORDS
from bench.errors import BenchError


@app.command()
@user_errors
def validate(
    suites: Annotated[list[Path], typer.Argument(help="one or more suite YAML files")],
) -> None:
    """Check suite files without running anything: exit 0 when all are valid."""
    from bench.suite.load import load_suite

    failed = 0
    for path in suites:
        try:
            trials = load_suite(path).trials
        except BenchError as exc:
            failed += 1
            print_error("invalid", exc)
            continue
        out.print(f"[green]valid:[/green] {path} ({len(trials)} trials)")
    if failed:
        raise typer.Exit(EXIT_USAGE)


@app.command("list")
@user_errors
def list_(
    kind: Annotated[
        Kind | None, typer.Argument(help="models, datasets, metrics or feature-spaces")
    ] = None,
    name: Annotated[
        str | None,
        typer.Argument(help="a model or dataset name: show its parameters with their defaults"),
    ] = None,
    format: Annotated[
        ListFormat, typer.Option("--format", help="table, or md (the README's tables)")
    ] = ListFormat.table,
) -> None:
    """List what is available, one line of description each; with a name, its parameters."""
    if kind is not None and name is not None:
        print_parameters(kind, name)
        return
    for chosen in [kind] if kind else list(Kind):
        header, rows = registry_table(chosen)
        if format is ListFormat.md:
            sys.stdout.write(markdown_table(header, rows) + "\n")
            continue
        table = Table(title=chosen.value, title_justify="left")
        for column in header:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*row)
        out.print(table)


def registry_table(kind: Kind) -> tuple[list[str], list[list[str]]]:
    """Header and rows describing every entry of a registry, as the README's tables show them."""
    rows = [[name, *COLUMNS[kind][1](entry)] for name, entry in registry(kind)]
    return ["name", *COLUMNS[kind][0]], rows


def model_cells(cls) -> list[str]:
    return [cls.family, cls.description]


def dataset_cells(cls) -> list[str]:
    dataset = cls(cls.Params())  # static facts only: nothing is loaded
    return [cls.description, str(dataset.info.shape), dataset.eval_spec.feature_space]


def metric_cells(metric) -> list[str]:
    better = WORDS
    keys = ", ".join(f"`{k}` ({better[d]})" for k, d in metric.directions.items())
    if metric.keys_vary:
        keys = f"{len(metric.directions)} keys, those that fit the model (see below)"
    return [metric.description, keys]


COLUMNS = {
    Kind.models: (["family", "description"], model_cells),
    Kind.datasets: (
        ["description", "sample shape (default params)", "feature space"],
        dataset_cells,
    ),
    Kind.metrics: (["description", "reported (better)"], metric_cells),
    Kind.feature_spaces: (["description"], lambda space: [space.description]),
}


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    names = [f"`{row[0]}`" for row in rows]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += [
        "| " + " | ".join([name, *row[1:]]) + " |" for name, row in zip(names, rows, strict=True)
    ]
    return "\n".join(lines)


def print_parameters(kind: Kind, name: str) -> None:
    """The hyperparameters of a model (or parameters of a dataset): name, default, description."""
    entry = registry(kind).get(name)
    schema = getattr(entry, "HParams", None) or getattr(entry, "Params", None)
    if schema is None:
        raise BenchError(
            f"{kind.value} '{name}' takes no parameters",
            fix="parameters are listed for models and datasets",
        )
    table = Table(title=f"{name}: {entry.description}", title_justify="left")
    for column in ("parameter", "default", "meaning"):
        table.add_column(column, overflow="fold")
    for field_name, field in schema.model_fields.items():
        default = (
            "required"
            if field.is_required()
            else repr(field.get_default(call_default_factory=True))
        )
        table.add_row(field_name, default, field.description or "")
    out.print(table)
    if getattr(entry, "diagnostics", None):
        print_diagnostics(name, entry.diagnostics)


def print_diagnostics(name: str, diagnostics: dict) -> None:
    """What a model logs at every step, and the role the stability metric reads it in."""
    table = Table(title=f"{name} logs at every step", title_justify="left")
    for column in ("key", "role", "meaning"):
        table.add_column(column, overflow="fold")
    for key, diagnostic in diagnostics.items():
        table.add_row(key, diagnostic.role, diagnostic.meaning)
    out.print(table)


def registry(kind: Kind):
    import bench.data
    import bench.metrics
    import bench.models

    return {
        Kind.models: bench.models.MODELS,
        Kind.datasets: bench.data.DATASETS,
        Kind.metrics: bench.metrics.METRICS,
        Kind.feature_spaces: bench.metrics.FEATURE_SPACES,
    }[kind]


@app.command()
@user_errors
def leaderboard(
    path: Annotated[Path, typer.Argument(help="results/<suite> (newest run) or a run folder")],
    format: Annotated[
        BoardFormat, typer.Option("--format", help="table, md or csv")
    ] = BoardFormat.table,
) -> None:
    """Rank a run's trials, mean ± std over seeds, from the files on disk."""
    from bench.report.markdown import leaderboard_markdown
    from bench.report.terminal import print_leaderboard
    from bench.results.aggregate import aggregate
    from bench.results.layout import find_run

    board = aggregate(find_run(path))
    if format is BoardFormat.table:
        print_leaderboard(board, out)
    else:
        sys.stdout.write(
            leaderboard_markdown(board) if format is BoardFormat.md else board.to_csv()
        )
