"""`bench compare`: two or more runs side by side, row by row (dataset, model, variant), every
metric's mean ± std per run, the difference of each run from the first, and Welch's t-test over
the seeds (unequal variances: two runs rarely share a seed spread).

Pure functions over loaded runs (bench.results.runs.RunData): `compare_runs` builds the
comparison (or refuses runs that share no row); bench.report.comparison renders it
(`comparison_rows`: plain dicts for CSV and a wandb table; `comparison_cells`: the strings every
renderer shows).
"""

from __future__ import annotations

import math
import statistics
import string
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from bench.errors import BenchError
from bench.results.protocol import DIFFERS, SAME, UNKNOWN, VERSIONS, ProtocolCheck, check
from bench.results.runs import RowKey, RunData, row_key

ALPHA = 0.05  # significance level of the t-test
SIGNIFICANT, NOT_SIGNIFICANT = "significant", "not significant"
TOO_SMALL, NO_SPREAD, MISSING = "n too small", "no spread", "missing"


@dataclass(frozen=True)
class Stat:
    """A metric of one row in one run: its values over the completed seeds."""

    values: tuple[float, ...]

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values) if self.values else math.nan

    @property
    def std(self) -> float:
        return statistics.stdev(self.values) if self.n > 1 else math.nan


@dataclass(frozen=True)
class Welch:
    """Welch's t-test of one run against the first; t and p are None when it cannot be run."""

    verdict: str
    t: float | None = None
    p: float | None = None


def welch_test(first: Sequence[float], other: Sequence[float], alpha: float = ALPHA) -> Welch:
    """Welch's two-sided t-test of `other` against `first`. It needs two values on each side
    (a std), and some spread: with none on either side t is 0/0 and the test says nothing."""
    if len(first) < 2 or len(other) < 2:
        return Welch(TOO_SMALL)
    if statistics.variance(first) == 0 and statistics.variance(other) == 0:
        return Welch(NO_SPREAD)
    from scipy.stats import ttest_ind

    with warnings.catch_warnings():  # one side without spread: scipy warns, the test holds
        warnings.simplefilter("ignore", RuntimeWarning)
        result = ttest_ind(list(other), list(first), equal_var=False)
    t, p = float(result.statistic), float(result.pvalue)
    return Welch(SIGNIFICANT if p < alpha else NOT_SIGNIFICANT, t, p)


@dataclass(frozen=True)
class Versus:
    """One run against the first on one metric of one row."""

    label: str
    difference: float | None  # this run's mean minus the first's
    test: Welch
    protocol: ProtocolCheck
    n: tuple[int, int]  # seeds behind the first run's mean and this run's


@dataclass(frozen=True)
class Line:
    """One metric of one row in every run."""

    dataset: str
    model: str
    variant: str
    metric: str
    direction: str  # "min" | "max"
    stats: tuple[Stat, ...]  # one per run (no values where the run lacks the row or metric)
    versus: tuple[Versus, ...]  # every run after the first, against the first


@dataclass
class Comparison:
    labels: list[str]  # A, B, C, … in the order the runs were given
    titles: list[str]  # suite / run-id of each run
    paths: list[str]
    lines: list[Line]
    notes: list[str]  # what a reader must know before trusting the table
    protocols: dict[str, list[str]]  # dataset -> one summary per run after the first

    def datasets(self) -> list[str]:
        return list(dict.fromkeys(line.dataset for line in self.lines))


def compare_runs(runs: Sequence[RunData], alpha: float = ALPHA) -> Comparison:
    """Every shared row and metric of `runs`, each run against the first. Refuses (BenchError)
    fewer than two runs, or a run that shares no row with the first."""
    if len(runs) < 2:
        raise BenchError(
            "bench compare needs at least two runs", fix="give two or more run folders"
        )
    labels = list(string.ascii_uppercase[: len(runs)])
    refuse_disjoint(runs, labels)
    keys = list(dict.fromkeys(row_key(row) for run in runs for row in run.board.rows))
    lines = [line for key in keys for line in row_lines(runs, labels, key, alpha)]
    comparison = Comparison(
        labels, [r.title for r in runs], [str(r.path) for r in runs], lines, [], {}
    )
    comparison.notes = notes(runs, labels, keys) + [chance_note(lines, alpha)]
    comparison.protocols = {d: dataset_protocols(runs, labels, d) for d in comparison.datasets()}
    return comparison


def refuse_disjoint(runs: Sequence[RunData], labels: list[str]) -> None:
    """A comparison of runs with nothing in common would be an empty table that looks like
    agreement: refuse it, naming the suites."""
    first = {row_key(r) for r in runs[0].board.rows}
    for label, run in zip(labels[1:], runs[1:], strict=True):
        if first & {row_key(r) for r in run.board.rows}:
            continue
        suites = "the same suite" if run.suite == runs[0].suite else "different suites"
        raise BenchError(
            f"run {label} ({run.title}) and run A ({runs[0].title}) share no leaderboard row "
            f"(dataset, model, variant); they are runs of {suites}",
            where=str(run.path),
            fix="compare runs of one suite (e.g. two seeds sets or two commits of the same "
            "suite file), or of suites that share datasets, models and variants",
        )


def metric_keys(runs: Sequence[RunData], dataset: str) -> dict[str, str]:
    """The ranked table's keys, then each section's, of `dataset` in any run -> direction."""
    keys: dict[str, str] = {}
    for run in runs:
        board = run.board
        for section in (None, *board.sections):
            for key in board.keys_for(dataset, section):
                keys.setdefault(key, board.direction(key))
    return keys


def stat_of(run: RunData, key: RowKey, metric: str) -> Stat:
    row = run.row(key)
    return Stat(tuple(row.values.get(metric, ())) if row else ())


def row_lines(runs: Sequence[RunData], labels: list[str], key: RowKey, alpha: float) -> list[Line]:
    protocols = [run.protocols(key) if run.row(key) else [] for run in runs]
    checks = [
        check(protocols[0], p, ("A", lb)) for lb, p in zip(labels[1:], protocols[1:], strict=True)
    ]
    lines = []
    for metric, direction in metric_keys(runs, key[0]).items():
        stats = tuple(stat_of(run, key, metric) for run in runs)
        if not any(s.n for s in stats):
            continue
        versus = tuple(
            versus_first(stats[0], stat, label, chk, alpha)
            for label, stat, chk in zip(labels[1:], stats[1:], checks, strict=True)
        )
        lines.append(Line(*key, metric, direction, stats, versus))
    return lines


def versus_first(first: Stat, other: Stat, label: str, chk: ProtocolCheck, alpha: float) -> Versus:
    n = (first.n, other.n)
    if not first.n or not other.n:
        return Versus(label, None, Welch(MISSING), chk, n)
    test = welch_test(first.values, other.values, alpha)
    return Versus(label, other.mean - first.mean, test, chk, n)


def notes(runs: Sequence[RunData], labels: list[str], keys: list[RowKey]) -> list[str]:
    found = [f"run {lb}: {run.title} ({run.path})" for lb, run in zip(labels, runs, strict=True)]
    suites = dict.fromkeys(run.suite for run in runs)
    if len(suites) > 1:
        found.append(f"the runs are of different suites ({', '.join(suites)}): shared rows only")
    for key in keys:
        absent = [lb for lb, run in zip(labels, runs, strict=True) if run.row(key) is None]
        if absent:
            found.append(f"{' / '.join(key)}: no such row in run {', '.join(absent)}")
    incomplete = [
        f"{lb} ({r.board.incomplete})"
        for lb, r in zip(labels, runs, strict=True)
        if r.board.incomplete
    ]
    if incomplete:
        found.append(f"incomplete runs: {'; '.join(incomplete)}")
    return found


def chance_note(lines: list[Line], alpha: float) -> str:
    """Many tests at once: a reader should expect some 'significant' verdicts from noise."""
    tests = sum(v.test.p is not None for line in lines for v in line.versus)
    return (
        f"{tests} t-tests at α = {alpha}: about {tests * alpha:.1f} of them would come out "
        "significant by chance alone if nothing had changed"
    )


def dataset_protocols(runs: Sequence[RunData], labels: list[str], dataset: str) -> list[str]:
    """Per run after the first, one line on how its protocol on `dataset` relates to run A's."""
    keys = [row_key(r) for r in runs[0].board.rows if r.dataset == dataset]
    summaries = []
    for label, run in zip(labels[1:], runs[1:], strict=True):
        shared = [k for k in keys if run.row(k)]
        states = [check(runs[0].protocols(k), run.protocols(k), ("A", label)) for k in shared]
        summaries.append(f"{label} vs A: {protocol_summary(states)}")
    return summaries


def protocol_summary(checks: list[ProtocolCheck]) -> str:
    """The loudest state among a dataset's rows, with its first example."""
    for state in (DIFFERS, UNKNOWN, VERSIONS):
        found = [c for c in checks if c.state == state]
        if found:
            return found[0].summary()
    return SAME if checks else "no shared rows"
