"""Reproducing published numbers: the comparison of a finished run with a suite's `published:`
values (their schema and checks against the suite live in bench.suite.published).

A published entry targets one leaderboard row (model label x dataset label x grid point) and one
metric output key. The bench side is the mean over the row's completed seeds with its standard
error std/sqrt(n); the published side is the paper's value with its standard error (a standard
deviation over `runs` runs is divided by sqrt(runs); one over an unstated number of runs is used
as it is, the widest the standard error can be). The two are compared by

    z = (bench mean - published value) / sqrt(se_published^2 + se_bench^2)

and an entry *matches* when |z| <= threshold (default 2: roughly a 95 % two-sided interval for
normal errors). A mismatch is always reported with its size (difference, relative difference and
z); nothing is tuned away. An entry the run has no value for is *missing*, which is not a match.

Degenerate cases, each flagged in the row: with no uncertainty on either side the entry matches
only when the difference is exactly 0; with fewer than 2 completed seeds the bench standard error
is unknown and the published uncertainty is used alone.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from bench.errors import BenchError
from bench.suite.published import (
    DEFAULT_THRESHOLD,
    Published,
    PublishedValue,
    ReferenceCheck,
    resolve_dataset,
    targets,
)
from bench.trial import Trial
from bench.trial.report import Status

MATCH, MISMATCH, MISSING = "match", "mismatch", "missing"

Record = tuple[Trial, dict[str, Any]]  # (config, metrics.json) as results.load_trials gives


def check_run_for_suite(suite_name: str, run_dir: Path) -> None:
    """`--from RUN` must be a run of this suite; a BenchError before anything happens if not."""
    meta_file = Path(run_dir) / "run.json"
    try:
        meta = json.loads(meta_file.read_text())
    except (OSError, ValueError) as exc:
        raise BenchError(
            f"cannot read the run's record {meta_file}: {exc}",
            fix="pass a run folder written by `bench run` (results/<suite>/<run-id>)",
        ) from None
    if meta.get("suite") != suite_name:
        raise BenchError(
            f"run {run_dir} is a run of suite '{meta.get('suite')}', not of '{suite_name}'",
            where="--from",
            fix=f"pass a run of suite '{suite_name}' (under results/{suite_name}/), or omit "
            "--from to run the suite now",
        )


# --------------------------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------------------------


@dataclass
class Comparison:
    """One published value against bench's measurement of it."""

    model: str
    dataset: str
    metric: str
    variant: str
    source: str
    published: float  # in bench's units
    published_se: float
    spread_text: str  # what the published ± was ("std, 3 runs", "se", "no spread given")
    scale: float
    n: int  # completed seeds (or reference draws) with a value
    bench_mean: float | None
    bench_se: float | None  # None: fewer than 2 values
    difference: float | None  # bench - published
    relative: float | None  # difference / |published|; None when published is 0
    combined_se: float | None
    z: float | None
    verdict: str  # match | mismatch | missing
    threshold: float
    flags: list[str] = field(default_factory=list)
    notes: str = ""

    @property
    def matched(self) -> bool:
        return self.verdict == MATCH

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def judge(
    value: PublishedValue,
    bench_values: Sequence[float],
    threshold: float = DEFAULT_THRESHOLD,
    *,
    labels: dict[str, str],
    missing_reason: str = "no value",
) -> Comparison:
    """Compare one published value with bench's values over seeds (or draws)."""
    base = {
        **labels,
        "source": value.source.text(),
        "published": value.published,
        "published_se": value.standard_error,
        "spread_text": value.spread_text(),
        "scale": value.scale,
        "threshold": threshold,
        "notes": value.notes,
    }
    n = len(bench_values)
    flags: list[str] = []
    if value.spread is None:
        flags.append("the paper gives no spread: its uncertainty counts as 0")
    elif value.std and value.runs is None:
        flags.append("a std over an unstated number of runs: used as the standard error")
    if n == 0:
        empty = dict.fromkeys(("bench_mean", "bench_se", "difference", "relative"), None)
        return Comparison(
            **base,
            **empty,
            n=0,
            combined_se=None,
            z=None,
            verdict=MISSING,
            flags=[*flags, missing_reason],
        )
    mean = statistics.fmean(bench_values)
    se = statistics.stdev(bench_values) / math.sqrt(n) if n >= 2 else None
    if se is None:
        flags.append(f"bench SE unknown with n={n}: the published uncertainty is used alone")
    diff = mean - value.published
    combined = math.hypot(value.standard_error, se or 0.0)
    if combined == 0.0:
        flags.append("no uncertainty on either side: a match needs an exactly equal value")
        z = 0.0 if diff == 0 else math.copysign(math.inf, diff)
    else:
        z = diff / combined
    return Comparison(
        **base,
        n=n,
        bench_mean=mean,
        bench_se=se,
        difference=diff,
        relative=diff / abs(value.published) if value.published != 0 else None,
        combined_se=combined,
        z=z,
        verdict=MATCH if abs(z) <= threshold else MISMATCH,
        flags=flags,
    )


def compare(published: Published, records: Sequence[Record]) -> list[Comparison]:
    """Every entry against a run's trial records, in the order the suite lists them. A record
    counts when its trial completed and its final evaluation holds a finite value for the key."""
    out = []
    for entry in published.entries:
        label = resolve_dataset(entry.dataset, [t for t, _ in records])
        mine = [(t, m) for t, m in records if targets(entry, t, label)]
        values, reasons = _values(mine, entry.metric)
        variant = mine[0][0].variant if mine else "-"
        comparison = judge(
            entry,
            values,
            published.threshold,
            labels={
                "model": entry.model,
                "dataset": label,
                "metric": entry.metric,
                "variant": variant,
            },
            missing_reason=reasons,
        )
        if values and len(values) < len(mine):  # some seeds gave nothing: say so, keep the rest
            comparison.flags.append(f"{len(mine) - len(values)} of {len(mine)} seeds: {reasons}")
        out.append(comparison)
    return out


def _values(records: Sequence[Record], key: str) -> tuple[list[float], str]:
    """Finite final values of `key` over completed trials, and why the others gave none."""
    values: list[float] = []
    why: dict[str, int] = {}
    for _, metrics in records:
        status = Status.of(metrics.get("status"))
        value = metrics.get("final", {}).get(key)
        if status == Status.COMPLETED and isinstance(value, (int, float)) and math.isfinite(value):
            values.append(float(value))
            continue
        if status != Status.COMPLETED:
            reason = f"trial {status}"
        else:
            not_computable = metrics.get("not_computable", {})
            detail = "; ".join(f"{k}: {v}" for k, v in sorted(not_computable.items()))
            reason = f"completed without a finite '{key}'" + (f" ({detail})" if detail else "")
        why[reason] = why.get(reason, 0) + 1
    if not records:
        return values, "the run holds no trial for this row"
    text = ", ".join(f"{n} × {reason}" for reason, n in why.items())
    return values, text if values else f"no value from {len(records)} trial(s): {text}"


def all_matched(comparisons: Sequence[Comparison]) -> bool:
    """The exit code's question: did every published value reproduce? Missing is not a match;
    an empty list is not a reproduction either."""
    return bool(comparisons) and all(c.matched for c in comparisons)


# --------------------------------------------------------------------------------------------
# Reference checks (no model): a metric between two splits of a dataset
# --------------------------------------------------------------------------------------------


def measure_reference(
    check: ReferenceCheck,
    train: Any,
    heldout: Any,
    seed: int = 0,
) -> list[float]:
    """The check's metric, as registered, on `draws` random `samples`-sized subsets of the
    dataset's splits (`Features`): a metric that compares two sets (FID) gets a training subset
    as the reference and a held-out one in the place of generated samples; a reference-free one
    (IS) measures a training subset alone. The spread over draws is bench's uncertainty for
    `judge_reference`."""
    from bench.metrics.base import METRICS, EvalInputs, MetricInputError, metric_of_key

    metric = METRICS.get(metric_of_key().get(check.metric, check.metric))
    sources = (train,) if metric.reference_free else (train, heldout)
    short = min(len(s.features) for s in sources)
    if short < check.samples:
        raise BenchError(
            f"the reference check draws {check.samples} samples per split, but a split of "
            f"'{check.dataset}' has only {short}",
            fix=f"set samples to at most {short}",
        )
    gen = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(check.draws):
        picks = [subset(s, draw(len(s.features), check.samples, gen)) for s in sources]
        inputs = EvalInputs(torch.empty(0), fake=picks[-1], real=picks[0], spec=None, info=None)
        try:
            values.append(metric.compute(inputs, metric.prepare(picks[0]))[check.metric])
        except MetricInputError as exc:
            raise BenchError(
                f"the reference check '{check.metric}' on '{check.dataset}' cannot be measured "
                f"in this feature space: {exc}",
                fix="measure the dataset in a space the metric needs (a classifier space such as "
                "'inception' gives the logits IS needs)",
            ) from None
    return values


def draw(n: int, k: int, gen: torch.Generator) -> torch.Tensor:
    return torch.randperm(n, generator=gen)[:k]


def subset(features: Any, index: torch.Tensor) -> Any:
    """The rows `index` of every tensor a `Features` holds."""
    from bench.metrics.base import Features

    pick = [None if t is None else t[index] for t in (features.logits, features.modes)]
    return Features(features.features[index], *pick)


def judge_reference(
    check: ReferenceCheck, values: Sequence[float], threshold: float = DEFAULT_THRESHOLD
) -> Comparison:
    labels = {
        "model": "(none: real vs real)",
        "dataset": check.dataset,
        "metric": check.metric,
        "variant": f"{check.samples} per split, {check.draws} draws",
    }
    return judge(check, values, threshold, labels=labels, missing_reason="not measured")


def comparisons_json(comparisons: Sequence[Comparison]) -> list[dict[str, Any]]:
    """The structured form, for reproduction.json (inf z is kept as a string by json with
    allow_nan, so it is written as null plus the verdict)."""
    out = []
    for c in comparisons:
        row = c.to_dict()
        if row["z"] is not None and math.isinf(row["z"]):
            row["z"] = None
        row["matched"] = c.matched
        out.append(row)
    return out
