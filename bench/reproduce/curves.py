"""Published values over training: bench's verdict at every evaluation step, not only the last.

A published entry's row (model x dataset x grid point) is evaluated at several steps. At each
step the values of the row's completed seeds are compared with the published value by `judge`,
exactly as the final comparison does (same z, same threshold). The steps are those any completed
seed evaluated at; a seed without a finite value at a step (not evaluated there, or the metric
was not computable) is left out at that step and named in the step's note. Trials that did not
complete are left out everywhere, as in the final verdict, so the last step of the series is the
final comparison itself. The final verdict, and with it the exit code, stays the final step's.

Two summaries of the series:

- *first match*: the first step whose verdict is a match (None if none).
- *trend* over the last evaluations (`trend`): take the last WINDOW (4) evaluations at which
  every seed of the row has a value (at least 3; with fewer the trend is "n/a"). Fit the gap
  |bench mean - published| against log(step) by least squares; the fitted gap's change from the
  window's first to its last step is compared with the median combined standard error
  sqrt(SE_published^2 + SE_bench^2) over the window: *closing* when the gap shrinks by more than
  one combined SE, *widening* when it grows by more than one, *flat* otherwise.

Why this rule: log(step) because evaluation schedules are log-spaced and a training curve moves
about as much per decade late as early; least squares over 4 points so that one noisy evaluation
does not decide; only steps with every seed, since a mean over a different subset of seeds jumps
for reasons that are not training; the combined SE as the yardstick because it is the resolution
of the verdict itself: a change smaller than it cannot be told from seed noise or from the
paper's own uncertainty. The median makes one step's fluke SE harmless. It is a rule of practical
size, not a significance test. With no uncertainty on either side (the yardstick is 0) any
fitted change decides, as `judge` needs an exactly equal value then.

`reproduction_curves` gives the same data as plain numbers for the views that draw curves over
training (the wandb leaderboard run, the HTML report).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.reproduce.verdicts import MATCH, Comparison, Record, judge
from bench.suite.published import Published, PublishedEntry, resolve_dataset, targets
from bench.trial.report import Status

WINDOW = 4  # evaluations the trend looks at (the last ones with every seed)
MIN_POINTS = 3  # fewer evaluations than this: no trend
CLOSING, WIDENING, FLAT = "closing", "widening", "flat"


@dataclass(frozen=True)
class StepComparison:
    """The comparison of one published value with bench's values at one evaluation step."""

    step: int
    comparison: Comparison
    left_out: str = ""  # seeds without a value at this step, and why ('' when none)


@dataclass(frozen=True)
class Trend:
    """Whether the gap to the published value closes over the last evaluations."""

    label: str  # closing | widening | flat | "n/a (why)"
    steps: tuple[int, ...] = ()  # the window the fit used
    gap_change: float | None = None  # fitted gap at the window's last step minus its first
    combined_se: float | None = None  # the yardstick: median combined SE over the window

    @property
    def decided(self) -> bool:
        return self.label in (CLOSING, WIDENING, FLAT)


@dataclass
class EntryCurve:
    """One published entry over training, as plain numbers (None where a step has no value)."""

    label: str  # "model / dataset / metric", with the grid point when there is one
    model: str
    dataset: str
    variant: str
    metric: str
    published: float  # in bench's units
    published_se: float
    threshold: float
    steps: list[int] = field(default_factory=list)
    ns: list[int] = field(default_factory=list)  # seeds with a value at each step
    means: list[float | None] = field(default_factory=list)
    ses: list[float | None] = field(default_factory=list)  # None: fewer than 2 seeds
    zs: list[float | None] = field(default_factory=list)  # None: no value, or infinite
    verdicts: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    first_match_step: int | None = None
    trend: Trend = field(default_factory=lambda: Trend("n/a (no evaluations)"))

    def rows(self) -> list[tuple[int, int, float | None, float | None, float | None, str, str]]:
        """(step, n, mean, se, z, verdict, left_out) per evaluation step."""
        columns = (self.steps, self.ns, self.means, self.ses, self.zs, self.verdicts, self.left_out)
        return list(zip(*columns, strict=True))

    def to_dict(self) -> dict[str, Any]:
        """reproduction.json's per-entry additions: the series, first match and trend."""
        keys = ("step", "n", "mean", "se", "z", "verdict", "left_out")
        series = [dict(zip(keys, row, strict=True)) for row in self.rows()]
        fit = None
        if self.trend.decided:
            fit = {
                "steps": list(self.trend.steps),
                "gap_change": self.trend.gap_change,
                "combined_se": self.trend.combined_se,
            }
        return {
            "series": series,
            "first_match_step": self.first_match_step,
            "trend": self.trend.label,
            "trend_fit": fit,
        }


# --------------------------------------------------------------------------------------------
# The series
# --------------------------------------------------------------------------------------------


def step_values(metrics: dict[str, Any], key: str) -> dict[int, float]:
    """A trial's finite values of `key` by evaluation step; the final value (e.g. a metric over
    the whole history, measured when the trial ends) counts at the trial's last step."""
    found = {
        int(e["step"]): float(e["metrics"][key])
        for e in metrics.get("evaluations", [])
        if _finite(e.get("metrics", {}).get(key))
    }
    last, final = metrics.get("step"), metrics.get("final", {}).get(key)
    if last is not None and _finite(final):
        found.setdefault(int(last), float(final))
    return found


def step_comparisons(
    entry: PublishedEntry, records: Sequence[Record], threshold: float
) -> list[StepComparison]:
    """The entry judged at every step its row's completed seeds evaluated at, in step order."""
    label = resolve_dataset(entry.dataset, [t for t, _ in records])
    mine = [
        (t, m)
        for t, m in records
        if targets(entry, t, label) and m.get("status") == Status.COMPLETED
    ]
    by_seed = {t.seed: step_values(m, entry.metric) for t, m in mine}
    labels = {
        "model": entry.model,
        "dataset": label,
        "metric": entry.metric,
        "variant": mine[0][0].variant if mine else "-",
    }
    out = []
    for step in sorted({s for values in by_seed.values() for s in values}):
        values = [v[step] for v in by_seed.values() if step in v]
        missing = sorted(seed for seed, v in by_seed.items() if step not in v)
        note = _left_out_text(missing, len(by_seed), entry.metric) if missing else ""
        judged = judge(entry, values, threshold, labels=labels, missing_reason=note)
        out.append(StepComparison(step, judged, note))
    return out


def _left_out_text(seeds: list[int], total: int, key: str) -> str:
    names = ", ".join(f"seed {s}" for s in seeds)
    return f"{len(seeds)} of {total} seeds left out ({names}: no finite '{key}' at this step)"


def first_match_step(series: Sequence[StepComparison]) -> int | None:
    """The first evaluation step whose verdict is a match, or None."""
    return next((p.step for p in series if p.comparison.verdict == MATCH), None)


# --------------------------------------------------------------------------------------------
# The trend rule
# --------------------------------------------------------------------------------------------


def trend(series: Sequence[StepComparison], window: int = WINDOW) -> Trend:
    """Closing, widening or flat over the last `window` evaluations with every seed (the rule
    in the module docstring); "n/a (why)" with fewer than MIN_POINTS of them."""
    valued = [p for p in series if p.comparison.bench_mean is not None]
    if len(valued) < MIN_POINTS:
        return Trend(f"n/a (fewer than {MIN_POINTS} evaluations)")
    complete = [p for p in valued if not p.left_out]
    if len(complete) < MIN_POINTS:
        return Trend(f"n/a (fewer than {MIN_POINTS} evaluations with every seed)")
    points = complete[-max(window, MIN_POINTS) :]
    xs = [math.log(p.step) for p in points]
    gaps = [abs(p.comparison.difference) for p in points]
    change = least_squares_slope(xs, gaps) * (xs[-1] - xs[0])
    yardstick = statistics.median(p.comparison.combined_se for p in points)
    label = CLOSING if change < -yardstick else WIDENING if change > yardstick else FLAT
    return Trend(label, tuple(p.step for p in points), change, yardstick)


def least_squares_slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """The slope of the least-squares line through (xs, ys); 0 when the xs do not vary."""
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx if sxx else 0.0


# --------------------------------------------------------------------------------------------
# Per entry, as plain numbers
# --------------------------------------------------------------------------------------------


def entry_curve(
    entry: PublishedEntry, records: Sequence[Record], threshold: float, window: int = WINDOW
) -> EntryCurve:
    """One entry's series, first match and trend."""
    series = step_comparisons(entry, records, threshold)
    label = resolve_dataset(entry.dataset, [t for t, _ in records])
    variant = series[0].comparison.variant if series else "-"
    name = " / ".join([entry.model, label, *([variant] if variant != "-" else []), entry.metric])
    cs = [p.comparison for p in series]
    return EntryCurve(
        label=name,
        model=entry.model,
        dataset=label,
        variant=variant,
        metric=entry.metric,
        published=entry.published,
        published_se=entry.standard_error,
        threshold=threshold,
        steps=[p.step for p in series],
        ns=[c.n for c in cs],
        means=[c.bench_mean for c in cs],
        ses=[c.bench_se for c in cs],
        zs=[c.z if c.z is not None and math.isfinite(c.z) else None for c in cs],
        verdicts=[c.verdict for c in cs],
        left_out=[p.left_out for p in series],
        first_match_step=first_match_step(series),
        trend=trend(series, window),
    )


def reproduction_curves(published: Published, records: Sequence[Record]) -> list[EntryCurve]:
    """Every published entry over training, in the order the suite lists them (the same order
    as the first len(published.entries) comparisons of `compare`). The data a "curves over
    training" view needs: per entry its label, steps, bench means and standard errors, the
    published value and standard error, and the first match and trend. Reference checks have
    no training and no curve."""
    return [entry_curve(e, records, published.threshold) for e in published.entries]


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)
