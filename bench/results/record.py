"""What the driver knows of one trial, folded from its reports as they arrive, and its
metrics.json."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

from bench.trial import Trial
from bench.trial.report import FINAL, Status, TrialReport

__all__ = ["FINAL", "Files", "Status", "TrialRecord", "TrialSink", "count_statuses", "now"]

Files = dict[str, bytes]  # a report's files for the trial's folder: name -> bytes


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class TrialRecord:
    """What the driver knows of one trial, accumulated from its reports."""

    trial: Trial
    status: Status = Status.PENDING
    step: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    traceback: str | None = None
    wall_s: float = 0.0
    nodes: list[str] = field(default_factory=list)  # Ray node ids it ran on, in order
    restored_from: list[int] = field(default_factory=list)  # checkpoint steps it continued from
    warnings: list[str] = field(default_factory=list)
    # where the wall time went (bench.trial.train.Timing's summary), as of the latest report
    timing: dict[str, Any] = field(default_factory=dict)
    kept: dict[str, dict[str, Any]] = field(default_factory=dict)  # "final"/"best" -> its file
    protocol: dict[str, Any] = field(default_factory=dict)  # how its numbers were measured
    # `bench evaluate --run`: the kept model these numbers were measured from, again
    measured_from: dict[str, Any] | None = None

    @classmethod
    def from_metrics(cls, trial: Trial, metrics: dict[str, Any]) -> TrialRecord:
        """A trial finished by an earlier driver, from its metrics.json (history stays on disk)."""
        record = cls(trial, status=Status.of(metrics.get("status")), step=metrics.get("step", 0))
        record.evaluations = list(metrics.get("evaluations", []))
        record.error, record.wall_s = metrics.get("error"), metrics.get("wall_s", 0.0)
        record.nodes = list(metrics.get("nodes", []))
        record.restored_from = list(metrics.get("restored_from", []))
        record.warnings = list(metrics.get("warnings", []))
        record.timing = dict(metrics.get("timing", {}))
        record.kept = dict(metrics.get("kept", {}))
        record.protocol = dict(metrics.get("protocol", {}))
        record.measured_from = metrics.get("measured_from")
        return record

    def absorb(self, report: TrialReport) -> None:
        """Fold one report in. A retried trial reports earlier steps again: those replace the old
        rows instead of duplicating them. The first report after a restore from a checkpoint
        replays everything up to it, which replaces whatever an earlier attempt reported."""
        if report.restored:
            self.history = list(report.restored["history"])
            self.evaluations = list(report.restored["evaluations"])
            self.restored_from.append(report.restored["step"])
        if report.node and (not self.nodes or self.nodes[-1] != report.node):
            self.nodes.append(report.node)
        self.warnings += [note for note in report.warnings if note not in self.warnings]
        first = report.history[0]["step"] if report.history else report.step
        self.history = [r for r in self.history if r["step"] < first] + report.history
        self.evaluations = [e for e in self.evaluations if e["step"] < first]
        if report.evaluated:
            self.evaluations.append(
                {
                    "step": report.step,
                    "metrics": report.metrics,
                    "not_computable": report.not_computable,
                }
            )
        self.status, self.step = report.status, report.step
        self.error, self.traceback = report.error, report.traceback
        self.wall_s = report.wall_s
        self.timing = report.timing or self.timing
        if report.kept is not None:
            self.kept = report.kept
        self.protocol = report.protocol or self.protocol

    @property
    def final(self) -> dict[str, Any]:
        return self.evaluations[-1] if self.evaluations else {"metrics": {}, "not_computable": {}}

    def metrics_json(self) -> dict[str, Any]:
        """The trial's metrics.json (bench.results.folder adds its format)."""
        measured_from = {"measured_from": self.measured_from} if self.measured_from else {}
        return {
            "trial_id": self.trial.trial_id,
            "status": Status.of(self.status).value,
            "step": self.step,
            "steps_budget": self.trial.budget["steps"],
            "error": self.error,
            "wall_s": round(self.wall_s, 3),
            "final": self.final["metrics"],
            "not_computable": self.final["not_computable"],
            "evaluations": self.evaluations,
            "nodes": self.nodes,
            "restored_from": self.restored_from,
            "warnings": self.warnings,
            "timing": self.timing,
            "kept": self.kept,
            "protocol": self.protocol,
            **measured_from,
        }


def count_statuses(records: Any) -> dict[str, int]:
    """Status -> how many of `records` (TrialRecords) have it."""
    counts: dict[str, int] = {}
    for record in records:
        counts[record.status] = counts.get(record.status, 0) + 1
    return counts


class TrialSink(Protocol):
    """Where a trial's record goes as its reports arrive, on the driver: the results store, the
    tracker and the progress view, called in that order (so the files are on disk before the
    others look at them)."""

    def started(self, record: TrialRecord) -> None:
        """The trial started (or restarted, in a resumed run)."""

    def reported(self, record: TrialRecord, files: Files) -> None:
        """A report was folded into `record` (it may carry files for the trial's folder)."""

    def finished(self, record: TrialRecord, files: Files) -> None:
        """The trial ended, with any status; `files` are its last report's."""
