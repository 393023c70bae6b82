"""Experiment tracking. wandb lives here and nowhere else.

One wandb run per trial, grouped by suite run: config = the trial's hyperparameters, history =
its loss curves and evaluations, summary = final metrics, plus the sample grid. Trials are logged
as they finish, from a background thread, so tracking never slows the suite; a tracking failure is
reported as a warning and never costs a result (everything is on disk first)."""

from __future__ import annotations

import netrc
import os
import queue
import threading
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.results.record import TrialRecord


class Tracker:
    """Tracks nothing: the `disabled` mode, and the interface of every tracker."""

    warnings: list[str]

    def __init__(self) -> None:
        self.warnings = []

    def trial_finished(self, record: TrialRecord, picture: Path | None) -> None:
        pass

    def close(self) -> list[str]:
        """Wait for pending uploads; return warnings to show the user."""
        return self.warnings


class WandbTracker(Tracker):
    def __init__(self, mode: str, project: str, entity: str | None, group: str, folder: Path):
        super().__init__()
        self.settings = {"mode": mode, "project": project, "entity": entity, "group": group}
        self.folder = folder
        self.queue: queue.Queue[tuple[TrialRecord, Path | None] | None] = queue.Queue()
        self.thread = threading.Thread(target=self._work, name="bench-wandb", daemon=True)
        self.thread.start()

    def trial_finished(self, record: TrialRecord, picture: Path | None) -> None:
        self.queue.put((record, picture))

    def close(self) -> list[str]:
        self.queue.put(None)
        self.thread.join()
        return self.warnings

    def _work(self) -> None:
        while (item := self.queue.get()) is not None:
            record, picture = item
            try:
                self._log(record, picture)
            except Exception as exc:  # tracking must never cost a result that is already on disk
                self.warnings.append(f"wandb could not log {record.trial.trial_id}: {exc}")

    def _log(self, record: TrialRecord, picture: Path | None) -> None:
        import wandb

        trial = record.trial
        run = wandb.init(
            **self.settings,
            name=trial.trial_id,
            job_type=trial.model,
            dir=str(self.folder),
            config=wandb_config(record),
            reinit="create_new",
            settings=wandb.Settings(console="off", silent=True),
        )
        try:
            for step, row in merged_history(record).items():
                run.log(row, step=step)
            run.summary.update({**record.final["metrics"], "status": record.status})
            if picture is not None and picture.is_file():
                run.log({"samples": wandb.Image(str(picture))}, step=max(record.step, 1))
        finally:
            run.finish(exit_code=0 if record.status == "completed" else 1)


def wandb_config(record: TrialRecord) -> dict[str, Any]:
    trial = record.trial
    return {
        **trial.hparams,
        "model": trial.model,
        "model_label": trial.model_label,
        "dataset": trial.dataset_label,
        "seed": trial.seed,
        "steps": trial.budget["steps"],
    }


def merged_history(record: TrialRecord) -> dict[int, dict[str, float]]:
    """Loss rows and evaluation metrics keyed by step (wandb needs each step logged once)."""
    rows: dict[int, dict[str, float]] = {}
    for row in record.history:
        rows[int(row["step"])] = {k: v for k, v in row.items() if k != "step"}
    for evaluation in record.evaluations:
        step = int(evaluation["step"])
        rows.setdefault(step, {}).update({f"eval/{k}": v for k, v in evaluation["metrics"].items()})
    return dict(sorted(rows.items()))


def make_tracker(mode: str, project: str, entity: str | None, group: str, folder: Path) -> Tracker:
    if mode == "disabled":
        return Tracker()
    return WandbTracker(mode, project, entity, group, folder)


def require_wandb_login() -> None:
    """Online mode without credentials would stop at a login prompt: say so up front."""
    if os.environ.get("WANDB_API_KEY"):
        return
    try:
        if netrc.netrc().authenticators("api.wandb.ai"):
            return
    except (FileNotFoundError, netrc.NetrcParseError):
        pass
    raise BenchError(
        "wandb online mode needs a wandb login, and none was found",
        fix="run `wandb login` (or set WANDB_API_KEY), or use --wandb offline / --wandb disabled",
    )
