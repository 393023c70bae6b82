"""The wandb calls, and the only module of bench that imports wandb: open a trial's run and log
into it as reports arrive, close it with its summary; log a suite run's leaderboard run.

Every run is opened with its stable id and resume="allow" (a trial logged again continues its
own run), `reinit="create_new"` (many trial runs are open at once, each used only through its
own object, never through module-level wandb.log), and the driver's system metrics off: trials
run on Ray workers, so the driver's CPU and memory would describe nothing of theirs."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.results.aggregate import Leaderboard
from bench.results.layout import RUN_FILE
from bench.results.record import TrialRecord
from bench.tracking.content import (
    COMPLETED,
    LEADERBOARD,
    history_rows,
    leaderboard_tables,
    metric_keys,
    protocol_config,
    stable_id,
    tags,
    trial_config,
    trial_summary,
)
from bench.trial import Trial, slug

# The run folder's files that go with the leaderboard run as one artifact, when present.
ARTIFACT_FILES = ("leaderboard.md", "leaderboard.csv", "report.html", "reproduction.md")


@dataclass(frozen=True)
class Destination:
    """Where one suite run's wandb runs go: one project, one group per suite run (its run id),
    offline copies under <run folder>/wandb/."""

    mode: str  # offline | online
    project: str
    entity: str | None
    suite: str
    run_dir: Path

    @property
    def run_id(self) -> str:
        """The suite run's id as run.json records it (a copied or renamed run folder keeps its
        wandb ids, so syncing the copy continues the same runs); the folder's name for a run
        folder without one."""
        try:
            return str(json.loads((Path(self.run_dir) / RUN_FILE).read_text())["run_id"])
        except (OSError, ValueError, KeyError, TypeError):
            return Path(self.run_dir).name


def open_run(dest: Destination, name: str, job_type: str, config: dict[str, Any]) -> Any:
    import wandb

    return wandb.init(
        mode=dest.mode,
        project=dest.project,
        entity=dest.entity,
        group=dest.run_id,
        id=stable_id(dest.run_id, name),
        resume="allow",
        name=name if name != LEADERBOARD else dest.suite,
        job_type=job_type,
        dir=str(dest.run_dir),
        config=config,
        settings=wandb.Settings(
            console="off", silent=True, reinit="create_new", x_disable_stats=True
        ),
    )


class TrialRun:
    """One trial's wandb run, from its first report to its end."""

    def __init__(self, dest: Destination, trial: Trial) -> None:
        self.trial = trial
        self.run = open_run(dest, trial.trial_id, "trial", trial_config(trial, dest.run_id))
        self.last_step = 0  # wandb takes steps in increasing order; a retry's replay is skipped
        evaluated, _ = metric_keys(trial)
        for key, direction in evaluated.items():
            self.run.define_metric(f"eval/{key}", summary=direction)

    def log(self, rows: Iterable[dict[str, float]], evaluations: Iterable[dict[str, Any]]) -> None:
        for step, values in history_rows(self.trial, rows, evaluations).items():
            if step > self.last_step:
                self.run.log(values, step=step)
                self.last_step = step

    def finish(self, record: TrialRecord, picture: Path | None) -> Path:
        """Summary, tags and the sample picture, then close; the folder wandb wrote it to."""
        import wandb

        self.run.config.update(protocol_config(record.protocol), allow_val_change=True)
        self.run.summary.update(trial_summary(record))
        self.run.tags = tuple(tags(record))
        if picture is not None and picture.is_file():
            step = max(self.last_step, record.step, 1)
            self.run.log({"samples": wandb.Image(str(picture))}, step=step)
        self.run.finish(exit_code=0 if record.status == COMPLETED else 1)
        return Path(self.run.settings.sync_dir)


def log_leaderboard(
    dest: Destination, board: Leaderboard, comparisons: Sequence[dict[str, Any]]
) -> Path:
    """The suite run's leaderboard run: its tables, and its leaderboard files as an artifact
    (one artifact name per suite, one version per run: runs of a suite compare side by side)."""
    import wandb

    config = {"suite": dest.suite, "run_id": dest.run_id, "rows": len(board.rows)}
    run = open_run(dest, LEADERBOARD, "leaderboard", config)
    try:
        tables = leaderboard_tables(board, comparisons)
        logged: dict[str, Any] = {
            name: wandb.Table(columns=columns, data=rows, allow_mixed_types=True)
            for name, (columns, rows) in tables.items()
        }
        for plot in sorted((Path(dest.run_dir) / "reproduction").glob("*.png")):
            logged[f"reproduction/{plot.stem}"] = wandb.Image(str(plot))  # bench reproduce's
        run.log(logged)
        files = [Path(dest.run_dir) / name for name in ARTIFACT_FILES]
        files = [path for path in files if path.is_file()]
        if files:
            artifact = wandb.Artifact(
                f"leaderboard-{slug(dest.suite)}",
                type="leaderboard",
                metadata={"suite": dest.suite, "run_id": dest.run_id},
            )
            for path in files:  # immutable: uploaded from the run folder, no staging copy
                artifact.add_file(str(path), name=path.name, policy="immutable")
            run.log_artifact(artifact, aliases=[dest.run_id])
    finally:
        run.finish()
    return Path(run.settings.sync_dir)


def flush() -> None:
    """Wait until wandb has written every run's files (before they are uploaded or read)."""
    import wandb

    wandb.teardown()
