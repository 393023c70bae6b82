"""`bench evaluate`: measure samples made elsewhere exactly as a trial is measured."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bench.cli.common import InceptionWeights, app, out, use_inception_weights, user_errors


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
    from bench.report.terminal import print_leaderboard

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
