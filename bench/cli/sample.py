"""`bench sample`: samples from a trial's kept model, ready for `bench evaluate --fake`."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from bench.cli.common import app, out, user_errors


class Which(str, Enum):
    final = "final"
    best = "best"


@app.command()
@user_errors
def sample(
    trial_dir: Annotated[Path, typer.Argument(help="a trial's folder: RUN_DIR/trials/<trial-id>")],
    n: Annotated[int, typer.Option("-n", "--samples", min=1, help="how many samples to draw")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="the .npz to write (samples under 'samples')")
    ],
    which: Annotated[
        Which, typer.Option(help="the kept model: final, or best (its best evaluation)")
    ] = Which.final,
    seed: Annotated[
        int | None,
        typer.Option(help="the sampling seed; default: the trial's seed, as its evaluations"),
    ] = None,
) -> None:
    """Draw samples from a trial's kept model (built from its config.json alone)."""
    from bench.trial.kept import evaluate_command, sample_kept, save_samples

    trial, kept, samples = sample_kept(trial_dir, n, which.value, seed)
    used = trial.seed if seed is None else seed
    save_samples(
        output, samples, trial_id=trial.trial_id, which=which.value, step=kept["step"], seed=used
    )
    out.print(
        f"written: {output} ({n} samples of {trial.trial_id}, {which.value} model from step "
        f"{kept['step']}, seed {used})",
        highlight=False,
        soft_wrap=True,
    )
    command = evaluate_command(trial_dir, trial, output)
    if command:
        out.print(
            f"measure them against the trial's reference set: {command}",
            highlight=False,
            soft_wrap=True,  # one line, to copy whole
        )
