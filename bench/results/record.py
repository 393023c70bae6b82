"""What the driver knows of one trial, folded from its reports as they arrive, and its
metrics.json."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from bench.trial import Trial

# "stopped": ended early by the suite's scheduler (ASHA) for scoring worse than its peers
FINAL = ("completed", "diverged", "error", "failed", "stopped")


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class TrialRecord:
    """What the driver knows of one trial, accumulated from its reports."""

    trial: Trial
    status: str = "pending"
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

    @classmethod
    def from_metrics(cls, trial: Trial, metrics: dict[str, Any]) -> TrialRecord:
        """A trial finished by an earlier driver, from its metrics.json (history stays on disk)."""
        record = cls(trial, status=metrics.get("status", "pending"), step=metrics.get("step", 0))
        record.evaluations = list(metrics.get("evaluations", []))
        record.error, record.wall_s = metrics.get("error"), metrics.get("wall_s", 0.0)
        record.nodes = list(metrics.get("nodes", []))
        record.restored_from = list(metrics.get("restored_from", []))
        record.warnings = list(metrics.get("warnings", []))
        record.timing = dict(metrics.get("timing", {}))
        record.kept = dict(metrics.get("kept", {}))
        record.protocol = dict(metrics.get("protocol", {}))
        return record

    def absorb(self, payload: dict[str, Any]) -> None:
        """Fold one report in. A retried trial reports earlier steps again: those replace the old
        rows instead of duplicating them. The first report after a restore from a checkpoint
        replays everything up to it, which replaces whatever an earlier attempt reported."""
        restored = payload.get("restored")
        if restored:
            self.history = list(restored["history"])
            self.evaluations = list(restored["evaluations"])
            self.restored_from.append(restored["step"])
        node = payload.get("node")
        if node and (not self.nodes or self.nodes[-1] != node):
            self.nodes.append(node)
        for note in payload.get("warnings") or ():
            if note not in self.warnings:
                self.warnings.append(note)
        rows = payload["history"]
        first = rows[0]["step"] if rows else payload["step"]
        self.history = [r for r in self.history if r["step"] < first] + rows
        self.evaluations = [e for e in self.evaluations if e["step"] < first]
        if payload["metrics"] or payload["not_computable"]:
            self.evaluations.append(
                {
                    "step": payload["step"],
                    "metrics": payload["metrics"],
                    "not_computable": payload["not_computable"],
                }
            )
        self.status, self.step = payload["status"], payload["step"]
        self.error, self.traceback = payload["error"], payload["traceback"]
        self.wall_s = payload["wall_s"]
        self.timing = payload.get("timing") or self.timing
        if payload.get("kept") is not None:
            self.kept = payload["kept"]
        self.protocol = payload.get("protocol") or self.protocol

    @property
    def final(self) -> dict[str, Any]:
        return self.evaluations[-1] if self.evaluations else {"metrics": {}, "not_computable": {}}

    def metrics_json(self) -> dict[str, Any]:
        return {
            "trial_id": self.trial.trial_id,
            "status": self.status,
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
        }


def count_statuses(records: Any) -> dict[str, int]:
    """Status -> how many of `records` (TrialRecords) have it."""
    counts: dict[str, int] = {}
    for record in records:
        counts[record.status] = counts.get(record.status, 0) + 1
    return counts
