"""The `bench` command line: run, validate, list, leaderboard."""

from __future__ import annotations

import functools
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench.errors import BenchError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="bench: benchmark generative models (autoencoders and GANs) on Ray Tune.",
)
out = Console()
err = Console(stderr=True)

EXIT_TRIALS_FAILED = 1  # the suite ran, but some trials diverged, raised or lost their worker
EXIT_USAGE = 2  # the user's input was wrong; nothing ran
EXIT_INTERRUPTED = 130  # stopped with Ctrl-C (SIGINT): the run folder is marked interrupted


class WandbMode(str, Enum):
    offline = "offline"
    online = "online"
    disabled = "disabled"


class Kind(str, Enum):
    models = "models"
    datasets = "datasets"
    metrics = "metrics"


class BoardFormat(str, Enum):
    table = "table"
    md = "md"
    csv = "csv"


def user_errors(command):
    """Print a BenchError as one paragraph, without a traceback, and exit with EXIT_USAGE."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except BenchError as exc:
            print_error("error", exc)
            raise typer.Exit(EXIT_USAGE) from None

    return wrapper


def print_error(label: str, exc: BenchError) -> None:
    err.print(f"[bold red]{label}:[/bold red] {escape(exc.message())}", highlight=False)


@app.command()
@user_errors
def run(
    suite: Annotated[Path, typer.Argument(help="suite YAML file, e.g. suites/quickstart.yaml")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="print the trial table, train nothing")
    ] = False,
    results: Annotated[Path, typer.Option(help="folder that receives <suite>/<run-id>/")] = Path(
        "results"
    ),
    address: Annotated[
        str | None, typer.Option(help="join a Ray cluster: auto, HOST:PORT or ray://HOST:PORT")
    ] = None,
    wandb: Annotated[
        WandbMode | None, typer.Option(help="override the suite's tracking.wandb")
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", help="run grids larger than the sanity limit")
    ] = False,
) -> None:
    """Expand a suite into trials and run them on Ray Tune."""
    from bench.suite import MAX_TRIALS_WITHOUT_CONFIRM, expand, load_suite

    spec = load_suite(suite)
    trials = expand(spec)
    if dry_run:
        print_trials(spec, trials)
        return
    if len(trials) > MAX_TRIALS_WITHOUT_CONFIRM and not yes:
        raise BenchError(
            f"{suite} expands to {len(trials)} trials, more than the sanity limit of "
            f"{MAX_TRIALS_WITHOUT_CONFIRM}",
            fix="check the grid with --dry-run, then pass --yes if you mean it",
        )
    from bench.report import print_leaderboard
    from bench.runner import run_suite

    outcome = run_suite(spec, trials, results, address, wandb.value if wandb else None, out)
    print_leaderboard(outcome.board, out)
    for warning in outcome.warnings:
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}")
    out.print(f"results: {outcome.store.path}")
    counts = ", ".join(f"{n} {s}" for s, n in sorted(outcome.counts.items()))
    if outcome.status == "interrupted":
        err.print(
            f"[red]interrupted ({counts}): finished trials are kept; "
            f"`bench leaderboard {outcome.store.path}` ranks them[/red]"
        )
        raise typer.Exit(EXIT_INTERRUPTED)
    if not outcome.all_completed:
        err.print(f"[red]not every trial completed ({counts}); see leaderboard.md[/red]")
        raise typer.Exit(EXIT_TRIALS_FAILED)


def print_trials(spec, trials) -> None:
    table = Table(title=f"{spec.name}: {len(trials)} trials (dry run, nothing trained)")
    for column in ("#", "trial", "model", "dataset", "variant", "seed", "metrics"):
        table.add_column(column, overflow="fold")
    for i, trial in enumerate(trials, start=1):
        table.add_row(
            str(i),
            trial.trial_id,
            trial.model_label,
            trial.dataset_label,
            trial.variant,
            str(trial.seed),
            ", ".join(trial.metrics),
        )
    out.print(table)
    res = spec.resources
    out.print(
        f"budget: {spec.budget.steps} steps, eval every {spec.budget.eval_every} on "
        f"{spec.budget.eval_samples} samples; per trial {res.cpu:g} CPU, {res.gpu:g} GPU"
    )


@app.command()
@user_errors
def validate(
    suites: Annotated[list[Path], typer.Argument(help="one or more suite YAML files")],
) -> None:
    """Check suite files without running anything: exit 0 when all are valid."""
    from bench.suite import expand, load_suite

    failed = 0
    for path in suites:
        try:
            trials = expand(load_suite(path))
        except BenchError as exc:
            failed += 1
            print_error("invalid", exc)
            continue
        out.print(f"[green]valid:[/green] {path} ({len(trials)} trials)")
    if failed:
        raise typer.Exit(EXIT_USAGE)


@app.command("list")
def list_(
    kind: Annotated[Kind | None, typer.Argument(help="models, datasets or metrics")] = None,
) -> None:
    """List what is available, one line of description each."""
    for chosen in [kind] if kind else list(Kind):
        table = Table(title=chosen.value, title_justify="left")
        table.add_column("name")
        table.add_column("description")
        for name, description in registry(chosen).describe():
            table.add_row(name, description)
        out.print(table)


def registry(kind: Kind):
    import bench.data
    import bench.metrics
    import bench.models

    return {
        Kind.models: bench.models.MODELS,
        Kind.datasets: bench.data.DATASETS,
        Kind.metrics: bench.metrics.METRICS,
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
    from bench.report import print_leaderboard
    from bench.results import aggregate, find_run

    board = aggregate(find_run(path))
    if format is BoardFormat.table:
        print_leaderboard(board, out)
    else:
        sys.stdout.write(board.to_markdown() if format is BoardFormat.md else board.to_csv())


def main() -> None:
    app()


if __name__ == "__main__":
    main()
