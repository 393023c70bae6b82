"""The live view of a running suite: how many trials run, finished and failed, the best score so
far per dataset, and an ETA. On a terminal it is a rich table redrawn in place; anywhere else (a CI
log, a pipe) it is one plain line per event, so the log stays readable."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from bench.direction import rank_sign
from bench.results.record import FINAL, Files, TrialRecord
from bench.trial.report import UNSUCCESSFUL, Status

FAILED = UNSUCCESSFUL
DOMINANT_SHARE = 0.5  # a metric taking more of a finished trial's wall time than this is noted


def duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


class ProgressView:
    """Driven by the runner's callback: `started`, `reported` and `finished` per trial."""

    def __init__(
        self, console: Console, records: dict[str, TrialRecord], directions: dict[str, str]
    ):
        self.console, self.records, self.directions = console, records, directions
        self.live_mode = console.is_terminal
        self.live: Live | None = None
        self.began = time.perf_counter()
        # steps trained by earlier drivers (a resumed run) do not count towards this one's rate
        self.steps_at_start = sum(r.step for r in records.values())
        self.noted_metrics: set[str] = set()

    # --- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> ProgressView:
        self.began = time.perf_counter()
        self.steps_at_start = sum(r.step for r in self.records.values())
        if self.live_mode:
            self.live = Live(self.table(), console=self.console, refresh_per_second=2)
            self.live.__enter__()
        else:
            self.console.print(self.tally(), highlight=False, soft_wrap=True)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.update(self.table())
            self.live.__exit__(None, None, None)
            self.live = None

    # --- events ----------------------------------------------------------------------------

    def started(self, record: TrialRecord) -> None:
        if self.live is None:
            attempt = f" (continues from step {record.step})" if record.step else ""
            self.console.print(
                f"  started {escape(record.trial.trial_id)}{attempt}  | {escape(self.tally())}",
                highlight=False,
                soft_wrap=True,  # one event, one line, however narrow the log
            )
        self.refresh()

    def reported(self, record: TrialRecord, files: Files | None = None) -> None:
        self.refresh()

    def finished(self, record: TrialRecord, files: Files | None = None) -> None:
        metrics = record.final["metrics"]
        shown = "  ".join(f"{k}={v:.4g}" for k, v in list(metrics.items())[:4])
        colour = "green" if record.status in (Status.COMPLETED, Status.STOPPED) else "red"
        error = f"  {record.error}" if record.error else ""
        line = (
            f"[{colour}]{record.status:>9}[/{colour}] {escape(record.trial.trial_id)} "
            f"step {record.step} in {record.wall_s:.1f}s  {escape(shown)}{escape(error)}"
        )
        if self.live is None:
            line += f"  | {escape(self.tally())}"
        self.console.print(line, highlight=False, soft_wrap=self.live is None)
        self.note_dominant_metric(record)
        self.refresh()

    def note_dominant_metric(self, record: TrialRecord) -> None:
        """Once per metric and run: a metric that took most of a finished trial's time is worth
        knowing before the next suite, since `eval_samples` sets what it costs."""
        timing = record.timing or {}
        wall = timing.get("wall_s") or record.wall_s
        metrics_s = timing.get("metrics_s", {})
        spent = {k: v for k, v in metrics_s.items() if k not in self.noted_metrics}
        if not spent or wall <= 0:
            return
        name = max(spent, key=spent.__getitem__)
        if spent[name] <= DOMINANT_SHARE * wall:
            return
        self.noted_metrics.add(name)
        self.note(
            f"{record.trial.trial_id}: metric '{name}' took {spent[name]:.1f} s of the trial's "
            f"{wall:.1f} s; to speed the suite up, measure less often (budget eval_every or "
            f"eval_at), lower budget.eval_samples ({record.trial.budget['eval_samples']}) for a "
            "metric that grows with the sample count, or leave it out of the suite's metrics"
        )

    def note(self, text: str) -> None:
        self.console.print(
            f"[yellow]note:[/yellow] {escape(text)}", highlight=False, soft_wrap=True
        )

    # --- what is shown ---------------------------------------------------------------------

    def refresh(self) -> None:
        if self.live is not None:
            self.live.update(self.table())

    def counts(self) -> dict[str, int]:
        statuses = [r.status for r in self.records.values()]
        return {
            "running": statuses.count(Status.RUNNING),
            "finished": sum(s in FINAL and s not in FAILED for s in statuses),
            "failed": sum(s in FAILED for s in statuses),
            "pending": statuses.count(Status.PENDING),
        }

    def tally(self) -> str:
        c = self.counts()
        best = "; ".join(self.best()) or "-"
        return (
            f"{c['finished'] + c['failed']}/{len(self.records)} done ({c['failed']} failed), "
            f"{c['running']} running, best {best}, ETA {duration(self.eta())}"
        )

    def best(self) -> Iterable[str]:
        """The best final score of each dataset's primary metric among the finished trials."""
        by_dataset: dict[str, tuple[str, float, str]] = {}
        for record in self.records.values():
            if record.status != Status.COMPLETED:
                continue
            metrics = record.final["metrics"]
            key = next((k for k in self.directions if k in metrics), None)
            if key is None or not math.isfinite(metrics[key]):
                continue
            label = record.trial.dataset_label
            sign = rank_sign(self.directions[key])
            held = by_dataset.get(label)
            if held is None or sign * metrics[key] < sign * held[1]:
                by_dataset[label] = (key, metrics[key], record.trial.model_label)
        for label, (key, value, model) in by_dataset.items():
            yield f"{label} {key} {value:.4g} ({model})"

    def eta(self) -> float:
        """Seconds left at this run's pace of training steps; unfinished trials still owe the
        rest of their budget, finished ones (early stops included) owe nothing."""
        done = sum(r.step for r in self.records.values())
        trained = done - self.steps_at_start
        elapsed = time.perf_counter() - self.began
        owed = sum(
            r.trial.budget["steps"] - r.step for r in self.records.values() if r.status not in FINAL
        )
        if owed == 0:
            return 0.0
        if trained <= 0 or elapsed <= 0:
            return math.inf
        return owed / (trained / elapsed)

    def table(self) -> Table:
        table = Table(title=self.tally(), title_justify="left", expand=False)
        for column in ("trial", "step", "latest"):
            table.add_column(column, overflow="fold")
        for record in self.records.values():
            if record.status != Status.RUNNING:
                continue
            budget = record.trial.budget["steps"]
            latest = "  ".join(f"{k}={v:.4g}" for k, v in list(record.final["metrics"].items())[:3])
            table.add_row(escape(record.trial.trial_id), f"{record.step}/{budget}", escape(latest))
        return table
