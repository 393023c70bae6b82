"""The `bench` command line: run, validate, list, leaderboard, evaluate, reproduce."""

from __future__ import annotations

import functools
import os
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
EXIT_NOT_REPRODUCED = 3  # `bench reproduce`: some published value was not reproduced (or missing)

InceptionWeights = Annotated[
    Path | None,
    typer.Option(
        "--inception-weights",
        help="torch-fidelity's InceptionV3 weights file (weights-inception-2015-12-05-"
        "6726825d.pth) for datasets measured in the 'inception' space; same as "
        "$BENCH_INCEPTION_WEIGHTS",
    ),
]


def use_inception_weights(path: Path | None) -> None:
    """Point the inception feature space at a user-given weights file (checked here, so a typo
    fails before anything starts)."""
    if path is None:
        return
    if not path.is_file():
        raise BenchError(
            f"the InceptionV3 weights file {path} does not exist",
            where="--inception-weights",
            fix="give the path of weights-inception-2015-12-05-6726825d.pth",
        )
    os.environ["BENCH_INCEPTION_WEIGHTS"] = str(path.resolve())


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
    suite: Annotated[
        Path | None,
        typer.Argument(help="suite YAML file, e.g. suites/quickstart.yaml; optional with --resume"),
    ] = None,
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
    resume: Annotated[
        Path | None,
        typer.Option(
            "--resume",
            help="finish an interrupted run: a run folder, or results/<suite> for its newest run; "
            "finished trials are kept, the rest continue from their checkpoints",
        ),
    ] = None,
    inception_weights: InceptionWeights = None,
) -> None:
    """Expand a suite into trials and run them on Ray Tune."""
    from bench.suite import expand

    use_inception_weights(inception_weights)
    spec = suite_to_run(suite, resume)
    trials = expand(spec)
    if dry_run:
        print_trials(spec, trials)
        return
    confirm_size(spec, trials, yes)
    from bench.report import print_leaderboard
    from bench.runner import run_suite

    outcome = run_suite(
        spec, trials, results, address, wandb.value if wandb else None, out, resume=resume
    )
    print_leaderboard(outcome.board, out)
    for warning in outcome.warnings:
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}")
    out.print(f"results: {outcome.store.path}")
    counts = ", ".join(f"{n} {s}" for s, n in sorted(outcome.counts.items()))
    if outcome.status == "interrupted":
        err.print(
            f"[red]interrupted ({counts}): finished trials are kept; "
            f"`bench run --resume {outcome.store.path}` finishes the rest, "
            f"`bench leaderboard {outcome.store.path}` ranks what finished[/red]"
        )
        raise typer.Exit(EXIT_INTERRUPTED)
    if not outcome.all_completed:
        err.print(f"[red]not every trial completed ({counts}); see leaderboard.md[/red]")
        raise typer.Exit(EXIT_TRIALS_FAILED)


def confirm_size(spec, trials, yes: bool) -> None:
    """Refuse a grid larger than the sanity limit unless the user said --yes."""
    from bench.suite import MAX_TRIALS_WITHOUT_CONFIRM

    if len(trials) > MAX_TRIALS_WITHOUT_CONFIRM and not yes:
        raise BenchError(
            f"{spec.source or spec.name} expands to {len(trials)} trials, more than the sanity "
            f"limit of {MAX_TRIALS_WITHOUT_CONFIRM}",
            fix="check the grid with `bench run --dry-run`, then pass --yes if you mean it",
        )


def suite_to_run(suite: Path | None, resume: Path | None):
    """The suite file given, or with --resume alone the copy the run folder keeps."""
    from bench.results import SUITE_FILE, find_run
    from bench.suite import load_suite

    if suite is None and resume is None:
        raise BenchError(
            "no suite file given",
            fix="bench run SUITE.yaml, or bench run --resume RUN_DIR to finish an earlier run",
        )
    if suite is not None:
        return load_suite(suite)
    return load_suite(find_run(resume) / SUITE_FILE)


def print_trials(spec, trials) -> None:
    table = Table(title=f"{spec.name}: {len(trials)} trials (dry run, nothing trained)")
    for column in ("#", "trial", "model", "dataset", "variant", "seed", "steps", "metrics"):
        table.add_column(column, overflow="fold")
    for i, trial in enumerate(trials, start=1):
        table.add_row(
            str(i),
            trial.trial_id,
            trial.model_label,
            trial.dataset_label,
            trial.variant,
            str(trial.seed),
            str(trial.budget["steps"]),
            ", ".join(trial.metrics),
        )
    out.print(table)
    res = spec.resources
    out.print(
        f"budget: {spec.budget.steps} steps, eval every {spec.budget.eval_every} on "
        f"{spec.budget.eval_samples} samples (models may set their own); per trial "
        f"{res.cpu:g} CPU, {res.gpu:g} GPU; {sum(t.budget['steps'] for t in trials):,} steps in all"
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
@user_errors
def list_(
    kind: Annotated[Kind | None, typer.Argument(help="models, datasets or metrics")] = None,
    name: Annotated[
        str | None,
        typer.Argument(help="a model or dataset name: show its parameters with their defaults"),
    ] = None,
) -> None:
    """List what is available, one line of description each; with a name, its parameters."""
    if kind is not None and name is not None:
        print_parameters(kind, name)
        return
    for chosen in [kind] if kind else list(Kind):
        table = Table(title=chosen.value, title_justify="left")
        table.add_column("name")
        table.add_column("description")
        for name, description in registry(chosen).describe():
            table.add_row(name, description)
        out.print(table)


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


@app.command()
@user_errors
def evaluate(
    real: Annotated[
        str,
        typer.Option(help="a dataset name (its training split), or a file/folder of real samples"),
    ],
    fake: Annotated[
        Path, typer.Option(help="generated samples: .npz, .npy, .pt or a folder of images")
    ],
    metrics: Annotated[
        str | None, typer.Option(help="comma-separated metric names; default: all that apply")
    ] = None,
    feature_space: Annotated[
        str | None,
        typer.Option(
            help="for a file of real samples: raw, classifier, inception (default: "
            "raw for points, inception for images)"
        ),
    ] = None,
    reference: Annotated[
        int, typer.Option(help="real training samples the metrics compare with, at most")
    ] = 10_000,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="also write the values as JSON here")
    ] = None,
    inception_weights: InceptionWeights = None,
) -> None:
    """Measure samples generated elsewhere with bench's metrics, as a trial would be."""
    from bench.external import evaluate_external
    from bench.io import write_json
    from bench.report import print_leaderboard

    use_inception_weights(inception_weights)
    chosen = [m.strip() for m in metrics.split(",") if m.strip()] if metrics else None
    evaluation, board = evaluate_external(real, fake, chosen, reference, feature_space)
    print_leaderboard(board, out)
    if output is not None:
        write_json(
            output,
            {
                "real": real,
                "fake": str(fake),
                "samples": len(evaluation.samples) if evaluation.samples is not None else 0,
                "metrics": evaluation.values,
                "not_computable": evaluation.not_computable,
            },
        )
        out.print(f"written: {output}")


@app.command()
@user_errors
def reproduce(
    suite: Annotated[Path, typer.Argument(help="a suite with a `published:` section")],
    from_run: Annotated[
        Path | None,
        typer.Option("--from", help="compare a finished run of this suite instead of running it"),
    ] = None,
    results: Annotated[Path, typer.Option(help="folder that receives <suite>/<run-id>/")] = Path(
        "results"
    ),
    address: Annotated[
        str | None, typer.Option(help="join a Ray cluster: auto, HOST:PORT or ray://HOST:PORT")
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", help="run grids larger than the sanity limit")
    ] = False,
    inception_weights: InceptionWeights = None,
) -> None:
    """Run a suite (or take a finished run) and compare it with its published numbers."""
    from bench.reproduce import all_matched, reproduce_run
    from bench.results import find_run
    from bench.suite import load_suite

    use_inception_weights(inception_weights)
    spec = load_suite(suite)
    if spec.published is None:
        raise BenchError(
            "this suite has no `published:` section, so there is nothing to compare with",
            where=str(suite),
            fix="add one (see suites/published/*.yaml), or use `bench run` to just run it",
        )
    # reproduce_run refuses a --from run of another suite before reading anything of it
    run_dir = find_run(from_run) if from_run else run_for_reproduction(spec, results, address, yes)
    comparisons, path = reproduce_run(spec, run_dir)
    sys.stdout.write(path.read_text())
    out.print(f"written: {path}")
    if not all_matched(comparisons):
        err.print("[red]not every published value was reproduced; see the table above[/red]")
        raise typer.Exit(EXIT_NOT_REPRODUCED)


def run_for_reproduction(spec, results: Path, address: str | None, yes: bool) -> Path:
    """Run the suite as `bench run` would; its run folder, even when some trials failed (their
    published entries then show as missing)."""
    from bench.runner import run_suite
    from bench.suite import expand

    trials = expand(spec)
    confirm_size(spec, trials, yes)
    outcome = run_suite(spec, trials, results, address, None, out)
    if outcome.status == "interrupted":
        err.print(
            f"[red]interrupted: `bench run --resume {outcome.store.path}` finishes the run, "
            f"then `bench reproduce {spec.source} --from {outcome.store.path}`[/red]"
        )
        raise typer.Exit(EXIT_INTERRUPTED)
    return outcome.store.path


def main() -> None:
    app()


if __name__ == "__main__":
    main()
