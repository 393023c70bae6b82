"""`bench evaluate`: measure samples made elsewhere exactly as a trial is measured, or measure a
finished run's trials again from their kept models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bench.cli.common import (
    ClipWeights,
    DinoV2Weights,
    InceptionWeights,
    app,
    out,
    use_pretrained_weights,
    user_errors,
)
from bench.errors import BenchError


@app.command()
@user_errors
def evaluate(
    real: Annotated[
        str | None,
        typer.Option(help="a dataset name (its training split), or a file/folder of real samples"),
    ] = None,
    fake: Annotated[
        Path | None, typer.Option(help="generated samples: .npz, .npy, .pt or a folder of images")
    ] = None,
    run: Annotated[
        Path | None,
        typer.Option(
            help="instead of --real/--fake: a finished run folder, whose trials are measured "
            "again from their kept models into RUN/evaluations/<stamp>/",
        ),
    ] = None,
    which: Annotated[
        str | None, typer.Option(help="with --run: the kept model, final (default) or best")
    ] = None,
    metrics: Annotated[
        str | None,
        typer.Option(
            help="comma-separated metric names; default: all that apply (with --run: each "
            "trial's own)"
        ),
    ] = None,
    feature_space: Annotated[
        str | None,
        typer.Option(
            help="for a file of real samples: a feature space, one of `bench list "
            "feature-spaces` (default: raw for points, inception for images)"
        ),
    ] = None,
    reference: Annotated[
        int, typer.Option(help="real training samples the metrics compare with, at most")
    ] = 10_000,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="also write the values as JSON here")
    ] = None,
    inception_weights: InceptionWeights = None,
    dinov2_weights: DinoV2Weights = None,
    clip_weights: ClipWeights = None,
) -> None:
    """Measure samples generated elsewhere with bench's metrics, as a trial would be; or, with
    --run, every trial of a finished run again from its kept model, without retraining."""
    use_pretrained_weights(inception_weights, dinov2_weights, clip_weights)
    chosen = [m.strip() for m in metrics.split(",") if m.strip()] if metrics else None
    check_mode(real, fake, run, which, output)
    if run is not None:
        evaluate_run(run, chosen, which or "final")
    else:
        evaluate_files(real, fake, chosen, reference, feature_space, output)


def check_mode(
    real: str | None, fake: Path | None, run: Path | None, which: str | None, output: Path | None
) -> None:
    """The two modes take different options; a mix of them is refused before anything runs."""
    if run is not None and (real is not None or fake is not None):
        raise BenchError(
            "--run measures a run's kept models; --real/--fake measure a file of samples: give "
            "one or the other",
            fix="bench evaluate --run RUN_DIR, or bench evaluate --real DATA --fake SAMPLES",
        )
    if run is None and (real is None or fake is None):
        raise BenchError(
            "bench evaluate needs --real and --fake (samples to measure), or --run (a run whose "
            "kept models to measure again)",
            fix="bench evaluate --real mnist5k --fake samples.npz, or bench evaluate --run RUN_DIR",
        )
    if run is None and which is not None:
        raise BenchError("--which applies to --run only", fix="drop --which, or use --run")
    if run is not None and output is not None:
        raise BenchError(
            "--output applies to --real/--fake only; --run writes RUN_DIR/evaluations/<stamp>/",
            fix="drop --output",
        )


def evaluate_files(
    real: str,
    fake: Path,
    chosen: list[str] | None,
    reference: int,
    feature_space: str | None,
    output: Path | None,
) -> None:
    from bench.io import write_json
    from bench.measure.foreign import evaluate_external
    from bench.report.terminal import print_leaderboard

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


def evaluate_run(run: Path, chosen: list[str] | None, which: str) -> None:
    from bench.measure.remeasure import remeasure
    from bench.report.terminal import print_leaderboard

    folder, board, skipped = remeasure(run, chosen, which)
    print_leaderboard(board, out)
    for sentence in skipped:
        out.print(f"not measured: {sentence}", highlight=False, soft_wrap=True)
    out.print(f"written: {folder}", highlight=False, soft_wrap=True)
