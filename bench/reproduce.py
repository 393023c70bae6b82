"""Reproducing published numbers: the `published:` section of a suite, its validation against
the trials the suite runs, and the comparison of a finished run with the published values.

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
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from bench.errors import BenchError, SuiteError
from bench.io import write_json, write_text
from bench.published import (
    DEFAULT_THRESHOLD,
    Published,
    PublishedEntry,
    PublishedValue,
    ReferenceCheck,
)
from bench.registry import suggest
from bench.suite import Suite, Trial

MATCH, MISMATCH, MISSING = "match", "mismatch", "missing"
BUDGET_KEYS = ("steps", "eval_every", "eval_samples")  # setup keys compared with trial.budget

Locate = Callable[[tuple[str | int, ...]], str]
Record = tuple[Trial, dict[str, Any]]  # (config, metrics.json) as results.load_trials gives


# --------------------------------------------------------------------------------------------
# Validation against the suite's trials (before anything trains)
# --------------------------------------------------------------------------------------------


def metric_keys(trial: Trial) -> set[str]:
    """The output keys of the metrics a trial computes (Metric.directions)."""
    from bench.metrics import METRICS

    return {key for name in trial.metrics for key in METRICS.get(name).directions}


def _dotted(path: Sequence[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def check_published(
    published: Published, trials: Sequence[Trial], locate: Locate | None = None
) -> list[SuiteError]:
    """Every problem of the published section against the suite's expanded trials: unknown model,
    dataset or metric key, an hparams filter that picks no or several grid points, setup keys the
    suite cannot compare. `locate` turns a path such as ('published', 'entries', 0, 'model') into
    'file:line (...)'; the default prints the dotted path. Empty list: all good."""
    where = locate or _dotted
    problems: list[SuiteError] = []
    for index, entry in enumerate(published.entries):
        path = ("published", "entries", index)
        problems += _check_entry(entry, trials, lambda *p, base=path: where((*base, *p)))
    datasets = sorted({t.dataset_label for t in trials})
    for index, check in enumerate(published.reference_checks):
        if resolve_dataset(check.dataset, trials) not in datasets:
            problems.append(
                SuiteError(
                    f"reference check names dataset '{check.dataset}', which this suite does "
                    f"not run.{suggest(check.dataset, datasets)}",
                    where=where(("published", "reference_checks", index, "dataset")),
                    fix=f"use a dataset label of this suite: {', '.join(datasets)}",
                )
            )
    return problems


def _check_entry(
    entry: PublishedEntry, trials: Sequence[Trial], where: Callable[..., str]
) -> list[SuiteError]:
    def problem(field_name: str, what: str, fix: str) -> list[SuiteError]:
        return [SuiteError(what, where=where(field_name), fix=fix)]

    models = sorted({t.model_label for t in trials})
    if entry.model not in models:
        return problem(
            "model",
            f"published entry names model '{entry.model}', which this suite does not run."
            + suggest(entry.model, models),
            f"use a model label of this suite: {', '.join(models)}",
        )
    own = [t for t in trials if t.model_label == entry.model]
    datasets = sorted({t.dataset_label for t in own})
    label = resolve_dataset(entry.dataset, own)
    if label not in datasets:
        return problem(
            "dataset",
            f"published entry names dataset '{entry.dataset}', which this suite does not run "
            f"model '{entry.model}' on.{suggest(entry.dataset, datasets)}",
            f"use a dataset label of this suite: {', '.join(datasets)} (a dataset's label "
            "includes the params given in the suite, e.g. ring8(n_samples=5000); the bare name "
            "is enough when the suite uses that dataset once)",
        )
    own = [t for t in own if t.dataset_label == label]
    found, problems = _grid_point(entry, own, where)
    if problems:
        return problems
    keys = sorted(set.union(*(metric_keys(t) for t in found)))
    if entry.metric not in keys:
        elsewhere = sorted({k for t in trials for k in metric_keys(t)})
        hint = " (other rows of the suite do report it)" if entry.metric in elsewhere else ""
        return problem(
            "metric",
            f"published entry names metric '{entry.metric}', which is not measured for "
            f"'{entry.model}' on '{entry.dataset}'{hint}.{suggest(entry.metric, keys)}",
            f"use a metric output key measured there: {', '.join(keys) or 'none'} (add the "
            "metric to the suite's `metrics:` if it is missing)",
        )
    return _check_setup(entry, found[0], where)


def _grid_point(
    entry: PublishedEntry, own: list[Trial], where: Callable[..., str]
) -> tuple[list[Trial], list[SuiteError]]:
    """The trials of the one grid point the entry targets, and the problems (one is empty)."""
    known = sorted({k for t in own for k in t.hparams})
    unknown = [k for k in entry.hparams if k not in known]
    if unknown:
        return [], [
            SuiteError(
                f"published entry filters on hyperparameter '{k}', which model '{entry.model}' "
                f"does not have.{suggest(k, known)}",
                where=where("hparams", k),
                fix=f"use one of: {', '.join(known)}",
            )
            for k in unknown
        ]
    chosen = [t for t in own if _matches(t.hparams, entry.hparams)]
    points = sorted({t.variant for t in chosen})
    if not points:
        available = sorted({t.variant for t in own})
        return [], [
            SuiteError(
                f"published entry's hparams {entry.hparams} match no grid point of model "
                f"'{entry.model}'",
                where=where("hparams"),
                fix=f"pick one of the grid points the suite runs: {'; '.join(available)}",
            )
        ]
    if len(points) > 1:
        return [], [
            SuiteError(
                f"published entry matches {len(points)} grid points of model '{entry.model}' "
                f"({'; '.join(points)}), so it is unclear which row it describes",
                where=where("hparams"),
                fix="add `hparams: {...}` with the grid values of the row the paper reports",
            )
        ]
    return chosen, []


def _check_setup(entry: PublishedEntry, trial: Trial, where: Callable[..., str]) -> list:
    known = sorted(set(BUDGET_KEYS) | set(trial.hparams))
    return [
        SuiteError(
            f"published entry's setup names '{k}', which is neither a budget field nor a "
            f"hyperparameter of model '{entry.model}'.{suggest(k, known)}",
            where=where("setup", k),
            fix=f"use one of: {', '.join(known)}; put other details in `notes`",
        )
        for k in entry.setup
        if k not in known
    ]


def _matches(hparams: dict, wanted: dict) -> bool:
    return all(_same(hparams.get(k), v) for k, v in wanted.items())


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON values: YAML's [1, 2] and a validated (1, 2) compare equal."""
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def deviations(published: Published, trials: Sequence[Trial]) -> list[str]:
    """The declared deviations, then every setup value of an entry that the suite runs
    differently (computed from the trials, never typed in)."""
    found = list(published.deviations)
    for index, entry in enumerate(published.entries):
        label = resolve_dataset(entry.dataset, trials)
        trial = next((t for t in trials if targets(entry, t, label)), None)
        if trial is None:
            continue
        for key, paper in entry.setup.items():
            ours = trial.budget.get(key) if key in BUDGET_KEYS else trial.hparams.get(key)
            if not _same(ours, paper):
                found.append(
                    f"entries[{index}] ({entry.model}, {entry.metric} from "
                    f"{entry.source.paper.split(',')[0]}): {key} is {ours} here, {paper} in "
                    "the paper's setup"
                )
    return found


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


def resolve_dataset(wanted: str, trials: Sequence[Trial]) -> str:
    """The dataset label an entry means: a label as given, or the one label of a dataset name
    the trials use once; anything else comes back unchanged (and matches nothing)."""
    if any(t.dataset_label == wanted for t in trials):
        return wanted
    labels = {t.dataset_label for t in trials if t.dataset == wanted}
    return labels.pop() if len(labels) == 1 else wanted


def targets(entry: PublishedEntry, trial: Trial, dataset_label: str) -> bool:
    """Whether the trial belongs to the row the entry describes (its dataset resolved first)."""
    return (
        trial.model_label == entry.model
        and trial.dataset_label == dataset_label
        and _matches(trial.hparams, entry.hparams)
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
        status = metrics.get("status", "pending")
        value = metrics.get("final", {}).get(key)
        if status == "completed" and isinstance(value, (int, float)) and math.isfinite(value):
            values.append(float(value))
            continue
        if status != "completed":
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
    """The check's metric on `draws` random pairs of `samples`-sized subsets: FID between a
    training and a held-out subset, or the Inception Score of a training subset. `train` and
    `heldout` are `Features` of the two splits (IS needs their logits). The spread over draws is
    bench's uncertainty for `judge_reference`."""
    from torch_fidelity.metric_isc import KEY_METRIC_ISC_MEAN, isc_features_to_metric

    from bench.metrics import frechet_distance

    sources = (train.features, heldout.features) if check.metric == "fid" else (train.logits,)
    if any(s is None for s in sources):
        raise BenchError(
            f"the reference check '{check.metric}' on '{check.dataset}' needs classifier logits, "
            "and this feature space gives none",
            fix="measure the dataset in a classifier space such as 'inception'",
        )
    short = min(len(s) for s in sources)
    if short < check.samples:
        raise BenchError(
            f"the reference check draws {check.samples} samples per split, but a split of "
            f"'{check.dataset}' has only {short}",
            fix=f"set samples to at most {short}",
        )
    gen = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(check.draws):
        picks = [s[torch.randperm(len(s), generator=gen)[: check.samples]] for s in sources]
        if check.metric == "fid":
            values.append(frechet_distance(picks[0], picks[1]))
        else:
            values.append(isc_features_to_metric(picks[0], splits=10)[KEY_METRIC_ISC_MEAN])
    return values


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


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def _num(value: float | None, digits: int = 4) -> str:
    """Significant digits, enough to see a difference and not more than the data carry."""
    if value is None:
        return "—"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    return f"{value:.{digits}g}"


def _signed(value: float | None) -> str:
    text = _num(value)
    return text if value is None or value < 0 else "+" + text


def verdict_text(c: Comparison) -> str:
    if c.verdict == MISSING:
        return "**missing**"
    # no '|' here: the text sits in a markdown table cell
    z = f"z = {_signed(c.z)}"
    if c.verdict == MATCH:
        return f"match ({z}, within ±{c.threshold:g})"
    rel = f", {c.relative * 100:+.1f} %" if c.relative is not None else ""
    return f"**mismatch** by {_signed(c.difference)}{rel} ({z}, beyond ±{c.threshold:g})"


def summary(comparisons: Sequence[Comparison]) -> str:
    counts = {v: sum(c.verdict == v for c in comparisons) for v in (MATCH, MISMATCH, MISSING)}
    total = len(comparisons)
    head = "all matched" if all_matched(comparisons) else "NOT all matched"
    return (
        f"{head}: {counts[MATCH]} of {total} published values reproduced, "
        f"{counts[MISMATCH]} mismatched, {counts[MISSING]} missing"
    )


def reproduction_markdown(
    comparisons: Sequence[Comparison], published: Published, *, title: str, deviations: list[str]
) -> str:
    """reproduction.md: summary, deviations, the table, flags, sources, notes and the method."""
    lines = [f"# Reproduction: {title}", "", f"**{summary(comparisons)}.**", ""]
    lines += ["## Deviations from the published setups", ""]
    lines += [f"- {d}" for d in deviations] or ["- none declared or detected"]
    lines += [
        "",
        "## Results",
        "",
        "| model | dataset | variant | metric | published ± SE (spread) | bench mean ± SE (n) "
        "| difference | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in comparisons:
        pub = f"{_num(c.published, 7)} ± {_num(c.published_se)} ({c.spread_text})"
        if c.scale != 1.0:
            pub += f" ×{c.scale:g}"
        se = _num(c.bench_se) if c.bench_se is not None else "?"
        bench = "—" if c.bench_mean is None else f"{_num(c.bench_mean)} ± {se} (n={c.n})"
        cells = [c.model, c.dataset, c.variant, c.metric, pub, bench, _signed(c.difference)]
        lines.append("| " + " | ".join(cells + [verdict_text(c)]) + " |")
    flagged = [(i, c) for i, c in enumerate(comparisons, 1) if c.flags]
    if flagged:
        lines += ["", "## Flags", ""]
        for i, c in flagged:
            lines += [f"- row {i} ({c.model}, {c.metric}): {flag}" for flag in c.flags]
    lines += ["", "## Sources and setup notes", ""]
    for i, c in enumerate(comparisons, 1):
        note = f" — {c.notes}" if c.notes else ""
        lines.append(f"{i}. {c.model} / {c.dataset} / {c.metric}: {c.source}{note}")
    threshold = comparisons[0].threshold if comparisons else published.threshold
    lines += [
        "",
        "## Method",
        "",
        "Bench: mean over the completed seeds and its standard error std/sqrt(n). Published: the "
        "paper's standard error (a standard deviation over `runs` runs divided by sqrt(runs), "
        "or taken as it is when runs are not stated; 0 when no spread is given). "
        "z = (bench − published) / sqrt(SE_published² + SE_bench²); "
        f"a value is reproduced when |z| ≤ {threshold:g} (about a 95 % interval for normal "
        "errors). Missing values count as not reproduced.",
        "",
    ]
    return "\n".join(lines)


def write_reproduction(
    folder: Path,
    comparisons: Sequence[Comparison],
    published: Published,
    *,
    title: str,
    deviations: list[str],
) -> Path:
    """reproduction.md and reproduction.json into `folder` (atomically); the markdown's path."""
    text = reproduction_markdown(comparisons, published, title=title, deviations=deviations)
    write_json(
        Path(folder) / "reproduction.json",
        {
            "title": title,
            "all_matched": all_matched(comparisons),
            "threshold": published.threshold,
            "deviations": deviations,
            "comparisons": comparisons_json(comparisons),
        },
    )
    return write_text(Path(folder) / "reproduction.md", text)


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


# --------------------------------------------------------------------------------------------
# A whole reproduction: a finished run of the suite against its published section
# --------------------------------------------------------------------------------------------


def reference_comparisons(suite: Suite, trials: Sequence[Trial]) -> list[Comparison]:
    """Every reference check of the suite, measured on the dataset's whole training split against
    its held-out split in the dataset's feature space."""
    from bench.evaluate import prepare_dataset

    assert suite.published is not None
    found = []
    for check in suite.published.reference_checks:
        label = resolve_dataset(check.dataset, trials)
        ref = next(d for d in suite.datasets if d.label == label)
        assets = prepare_dataset(ref.name, ref.params, label, n_reference=sys.maxsize)
        values = measure_reference(check, assets.reference, assets.heldout)
        found.append(judge_reference(check, values, suite.published.threshold))
    return found


def reproduce_run(suite: Suite, run_dir: Path) -> tuple[list[Comparison], Path]:
    """Compare the finished run in `run_dir` with the suite's published section; writes
    reproduction.md/.json into the run folder. Returns the comparisons and the markdown's path."""
    from bench.results import load_trials
    from bench.suite import expand

    if suite.published is None:
        raise BenchError(
            f"suite '{suite.name}' has no `published:` section, so there is nothing to reproduce",
            where=str(suite.source or suite.name),
            fix="add published entries (see suites/published/*.yaml) or use `bench run`",
        )
    check_run_for_suite(suite.name, run_dir)
    trials = expand(suite)
    comparisons = compare(suite.published, load_trials(run_dir))
    comparisons += reference_comparisons(suite, trials)
    path = write_reproduction(
        run_dir,
        comparisons,
        suite.published,
        title=f"{suite.name} / {run_dir.name}",
        deviations=deviations(suite.published, trials),
    )
    return comparisons, path
