"""What a trial's worker tells the driver: one `TrialReport` per evaluation or checkpoint, and a
trial's `Status`, spelt here and nowhere else.

The worker (bench.trial.train) builds reports; Ray Tune carries them as plain dicts
(`to_result()`, because `tune.report` takes a mapping), and the driver reads them back
(`from_result()`) before folding them into the trial's record. A field added here travels the
whole way without any of the three learning its name.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Any


class Status(str, Enum):
    """A trial's state. A `str` so metrics.json, wandb tags and tables hold the plain word."""

    PENDING = "pending"  # not started (or started by a driver that died before its first report)
    RUNNING = "running"
    COMPLETED = "completed"
    DIVERGED = "diverged"  # a logged value became NaN or infinite
    ERROR = "error"  # the model raised
    FAILED = "failed"  # Ray gave up on its worker
    STOPPED = "stopped"  # ended early by the suite's scheduler (ASHA) for scoring worse

    def __str__(self) -> str:
        return self.value

    __format__ = str.__format__

    @property
    def final(self) -> bool:
        """Whether the trial has ended (it will report nothing more)."""
        return self in FINAL

    @classmethod
    def of(cls, value: Any) -> Status:
        """A status read from a file; anything unknown (or missing) counts as pending."""
        try:
            return cls(value)
        except ValueError:
            return cls.PENDING


FINAL = frozenset({Status.COMPLETED, Status.DIVERGED, Status.ERROR, Status.FAILED, Status.STOPPED})
UNSUCCESSFUL = (Status.DIVERGED, Status.ERROR, Status.FAILED)  # ended, without usable results


@dataclass
class TrialReport:
    """One report of a trial: the history rows logged since the previous report, the evaluation
    made at `step` (if any), and on the last one the files for the trial's folder."""

    step: int
    status: Status
    history: list[dict[str, float]] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    not_computable: dict[str, str] = field(default_factory=dict)
    wall_s: float = 0.0
    timing: dict[str, Any] = field(default_factory=dict)
    protocol: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    traceback: str | None = None
    files: dict[str, bytes] | None = None  # file name -> bytes (pictures, kept models), at the end
    kept: dict[str, dict[str, Any]] | None = None  # what each kept model file holds
    checkpoint: dict[str, Any] | None = None  # the training state to continue from (worker side)
    restored: dict[str, Any] | None = None  # history and evaluations replayed after a restore
    node: str | None = None  # the Ray node it ran on, set by the runner
    warnings: list[str] = field(default_factory=list)

    @property
    def evaluated(self) -> bool:
        return bool(self.metrics or self.not_computable)

    def to_result(self) -> dict[str, Any]:
        """The plain mapping Ray Tune carries (the status as its word)."""
        result = {f.name: getattr(self, f.name) for f in fields(self)}
        result["status"] = self.status.value
        return result

    @classmethod
    def from_result(cls, result: dict[str, Any]) -> TrialReport:
        """A report back from Tune's result, which also holds Tune's own keys (ignored)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in result.items() if k in known}
        values["status"] = Status.of(values.get("status"))
        values["warnings"] = list(values.get("warnings") or [])
        return cls(**values)
