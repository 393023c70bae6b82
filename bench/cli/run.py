"""`bench run` and `bench reproduce`: expand a suite, run it on Ray Tune, show the leaderboard
(or the comparison with the paper)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from bench.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_NOT_REPRODUCED,
    EXIT_TRIALS_FAILED,
    ClipWeights,
    DinoV2Weights,
    InceptionWeights,
    WandbMode,
    app,
    confirm_size,
    err,
    out,
    use_pretrained_weights,
    user_errors,
)
from bench.errors import BenchError


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
    dinov2_weights: DinoV2Weights = None,
    clip_weights: ClipWeights = None,
    settings: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="override a suite value after its includes, e.g. --set budget.steps=500 "
            "(repeatable; the value is read as YAML)",
        ),
    ] = None,
) -> None:
    """Expand a suite into trials and run them on Ray Tune."""
    use_pretrained_weights(inception_weights, dinov2_weights, clip_weights)
    spec = suite_to_run(suite, resume, settings or [])
    trials = spec.trials
    if dry_run:
        print_trials(spec, trials)
        return
    confirm_size(spec, trials, yes)
    from bench.report.terminal import print_leaderboard
    from bench.run.driver import run_suite

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


def suite_to_run(suite: Path | None, resume: Path | None, settings: list[str] = ()):
    """The suite file given, or with --resume alone the copy the run folder keeps."""
    from bench.results.layout import SUITE_FILE, find_run
    from bench.suite.load import load_suite

    if suite is None and resume is None:
        raise BenchError(
            "no suite file given",
            fix="bench run SUITE.yaml, or bench run --resume RUN_DIR to finish an earlier run",
        )
    if suite is not None:
        return load_suite(suite, settings)
    return load_suite(find_run(resume) / SUITE_FILE, settings)


def print_trials(spec, trials) -> None:
    from bench.trial import evaluation_steps

    table = Table(title=f"{spec.name}: {len(trials)} trials (dry run, nothing trained)")
    columns = ("#", "trial", "model", "dataset", "variant", "seed", "steps", "evaluated at")
    for column in (*columns, "metrics"):
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
            steps_text(evaluation_steps(trial.budget)),
            ", ".join(trial.metrics),
        )
    out.print(table)
    res = spec.resources
    evaluations = sum(len(evaluation_steps(t.budget)) for t in trials)
    out.print(
        f"budget: {spec.budget.steps} steps, {evaluations:,} evaluations of "
        f"{spec.budget.eval_samples} samples in all (models may set their own); per trial "
        f"{res.cpu:g} CPU, {res.gpu:g} GPU; {sum(t.budget['steps'] for t in trials):,} steps in all"
    )


def steps_text(steps: list[int], shown: int = 4) -> str:
    """The evaluation steps of a trial, abbreviated in the middle when there are many."""
    if len(steps) <= shown:
        return ", ".join(map(str, steps))
    return f"{steps[0]}, {steps[1]}, …, {steps[-1]} ({len(steps)})"


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
    dinov2_weights: DinoV2Weights = None,
    clip_weights: ClipWeights = None,
) -> None:
    """Run a suite (or take a finished run) and compare it with its published numbers."""
    from bench.reproduce.run import reproduce_run
    from bench.reproduce.verdicts import all_matched
    from bench.results.layout import find_run
    from bench.suite.load import load_suite
    from bench.tracking.sync import log_reproduction

    use_pretrained_weights(inception_weights, dinov2_weights, clip_weights)
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
    for warning in log_reproduction(spec, run_dir, comparisons):
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}")
    if not all_matched(comparisons):
        err.print("[red]not every published value was reproduced; see the table above[/red]")
        raise typer.Exit(EXIT_NOT_REPRODUCED)


def run_for_reproduction(spec, results: Path, address: str | None, yes: bool) -> Path:
    """Run the suite as `bench run` would; its run folder, even when some trials failed (their
    published entries then show as missing)."""
    from bench.run.driver import run_suite

    trials = spec.trials
    confirm_size(spec, trials, yes)
    outcome = run_suite(spec, trials, results, address, None, out)
    if outcome.status == "interrupted":
        err.print(
            f"[red]interrupted: `bench run --resume {outcome.store.path}` finishes the run, "
            f"then `bench reproduce {spec.source} --from {outcome.store.path}`[/red]"
        )
        raise typer.Exit(EXIT_INTERRUPTED)
    return outcome.store.path
