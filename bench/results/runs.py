"""A finished (or unfinished) run folder loaded once for the reports that read several files of
it: its run.json, its leaderboard, its trials, and the measurement protocol of every row.

`bench compare` and `bench report` both start here, so a row means the same thing in both: the
(dataset, model, variant) of bench.results.aggregate.Row."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.results.aggregate import Leaderboard, Row, aggregate
from bench.results.folder import RunFolder
from bench.trial import Trial

RowKey = tuple[str, str, str]  # (dataset, model, variant), as a leaderboard row names itself
PROTOCOL = "protocol"  # metrics.json's mapping of how the trial was measured (absent in old runs)


@dataclass
class RunData:
    """One run folder, read once."""

    path: Path
    meta: dict[str, Any]  # run.json
    board: Leaderboard
    trials: list[tuple[Trial, dict[str, Any]]]

    @property
    def suite(self) -> str:
        return str(self.meta.get("suite", "?"))

    @property
    def title(self) -> str:
        return f"{self.suite} / {self.meta.get('run_id', self.path.name)}"

    def row(self, key: RowKey) -> Row | None:
        return next((r for r in self.board.rows if row_key(r) == key), None)

    def trials_of(self, key: RowKey) -> list[tuple[Trial, dict[str, Any]]]:
        """The row's trials, by seed."""
        members = [(t, m) for t, m in self.trials if trial_key(t) == key]
        return sorted(members, key=lambda item: item[0].seed)

    def trial_dir(self, trial: Trial) -> Path:
        return RunFolder(self.path).trial_dir(trial.trial_id)

    def protocols(self, key: RowKey) -> list[dict[str, Any] | None]:
        """The distinct protocols the row's trials were measured with; None stands for trials
        whose metrics.json records none (runs made before protocols were recorded)."""
        found: dict[str, dict[str, Any] | None] = {}
        for _, metrics in self.trials_of(key):
            protocol = metrics.get(PROTOCOL)
            found.setdefault(json.dumps(protocol, sort_keys=True, default=str), protocol)
        return list(found.values())


def row_key(row: Row) -> RowKey:
    return (row.dataset, row.model, row.variant)


def trial_key(trial: Trial) -> RowKey:
    return (trial.dataset_label, trial.model_label, trial.variant)


def load_run(path: Path) -> RunData:
    """A run folder (or the newest run of a suite's results folder), aggregated."""
    folder = RunFolder.find(Path(path))
    return RunData(folder.path, folder.meta(), aggregate(folder.path), folder.pairs())
