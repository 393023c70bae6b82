"""`bench sync`: log a run folder's trials and leaderboard to wandb from its files (what a killed
driver never logged, or logged in part), offline, then upload with `--wandb online`."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from bench.cli.common import EXIT_TRIALS_FAILED, app, err, out, user_errors


class SyncMode(str, Enum):
    offline = "offline"
    online = "online"


@app.command()
@user_errors
def sync(
    run_dir: Annotated[
        Path, typer.Argument(help="a run folder (results/<suite>/<run-id>), or results/<suite>")
    ],
    wandb: Annotated[
        SyncMode,
        typer.Option(help="offline: (re)write the offline runs; online: and upload them"),
    ] = SyncMode.offline,
) -> None:
    """(Re)build the wandb runs of a run folder from its files, and upload them when online.

    Safe to repeat: runs keep their ids, and those already up to date are left alone."""
    from bench.results.layout import find_run
    from bench.tracking import require_wandb_login, sync_run

    folder = find_run(run_dir)  # a folder that is not a bench run fails here, nothing written
    online = wandb == SyncMode.online
    if online:
        require_wandb_login()
    report = sync_run(folder, online)
    written, current = report.rebuilt.written, report.rebuilt.current
    out.print(
        f"{folder}: {len(written)} wandb runs (re)written offline, {len(current)} already up to "
        "date"
    )
    if not online:
        if report.pending:
            out.print(f"{report.pending} not uploaded yet: `bench sync {folder} --wandb online`")
        return
    out.print(f"{len(report.uploaded)} uploaded, {len(report.failed)} failed")
    if report.failed:
        for copy in report.failed:
            err.print(f"[red]not uploaded:[/red] {escape(str(copy))}")
        err.print(escape(report.upload_output[-2000:]))
        raise typer.Exit(EXIT_TRIALS_FAILED)
