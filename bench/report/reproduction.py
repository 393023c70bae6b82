"""reproduction.md: the comparison of a run with its paper, as a reader sees it: the final
verdicts, then every published entry over training (a plot and the per-step table)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from bench.plots import Band, Reference, curves_png
from bench.reproduce.curves import MIN_POINTS, WINDOW, EntryCurve
from bench.reproduce.verdicts import MATCH, MISMATCH, MISSING, Comparison, all_matched
from bench.suite.published import Published
from bench.trial import slug

PLOTS_DIR = "reproduction"  # beside reproduction.md in the run folder


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
    comparisons: Sequence[Comparison],
    published: Published,
    *,
    title: str,
    deviations: list[str],
    curves: Sequence[EntryCurve] = (),
) -> str:
    """reproduction.md: summary, deviations, the table, flags, the entries over training,
    sources, notes and the method. `curves[i]` belongs to `comparisons[i]` (the published
    entries come first, in the suite's order; reference checks after them have none)."""
    lines = [f"# Reproduction: {title}", "", f"**{summary(comparisons)}.**", ""]
    lines += ["## Deviations from the published setups", ""]
    lines += [f"- {d}" for d in deviations] or ["- none declared or detected"]
    lines += [
        "",
        "## Results",
        "",
        "| model | dataset | variant | metric | published ± SE (spread) | bench mean ± SE (n) "
        "| difference | verdict | closing? |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for i, c in enumerate(comparisons):
        pub = f"{_num(c.published, 7)} ± {_num(c.published_se)} ({c.spread_text})"
        if c.scale != 1.0:
            pub += f" ×{c.scale:g}"
        se = _num(c.bench_se) if c.bench_se is not None else "?"
        bench = "—" if c.bench_mean is None else f"{_num(c.bench_mean)} ± {se} (n={c.n})"
        cells = [c.model, c.dataset, c.variant, c.metric, pub, bench, _signed(c.difference)]
        closing = closing_text(curves[i]) if i < len(curves) else _no_curve(i, published)
        lines.append("| " + " | ".join(cells + [verdict_text(c), closing]) + " |")
    flagged = [(i, c) for i, c in enumerate(comparisons, 1) if c.flags]
    if flagged:
        lines += ["", "## Flags", ""]
        for i, c in flagged:
            lines += [f"- row {i} ({c.model}, {c.metric}): {flag}" for flag in c.flags]
    if curves:
        lines += ["", "## Over training", ""]
        for i, curve in enumerate(curves, 1):
            lines += over_training(i, curve)
        lines.pop()  # each section ends in a blank line; the next heading brings its own
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
        "Over training: the same comparison at every step the row's completed seeds evaluated "
        "at (a seed without a value at a step is left out there, and named); the final verdict "
        "is the last step's. Trend: over the last "
        f"{WINDOW} evaluations with every seed (at least {MIN_POINTS}, else n/a), the gap "
        "|bench mean − published| is fitted against log(step) by least squares; *closing* when "
        "the fitted gap shrinks over that span by more than one combined standard error "
        "sqrt(SE_published² + SE_bench²) (the median over those steps), *widening* when it "
        "grows by more than one, *flat* otherwise.",
        "",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Over training
# --------------------------------------------------------------------------------------------


def closing_text(curve: EntryCurve) -> str:
    """The results table's "closing?" cell: the trend and the first step that matched."""
    first = curve.first_match_step
    return curve.trend.label + (f"; first match at step {first}" if first else "; never matched")


def _no_curve(row: int, published: Published) -> str:
    """The "closing?" cell of a row without a curve: a reference check has no training."""
    return "—" if row < len(published.entries) else "— (no training)"


def plot_path(index: int, curve: EntryCurve) -> str | None:
    """The plot's path relative to the run folder (row number first, so two entries of one row
    and metric never share a file); None when the entry has no value at any step."""
    if not any(m is not None for m in curve.means):
        return None
    return f"{PLOTS_DIR}/{index:02d}-{slug(f'{curve.model}-{curve.dataset}-{curve.metric}')}.png"


def over_training(index: int, curve: EntryCurve) -> list[str]:
    """One entry's section: heading with trend and first match, its plot, the fit, the steps."""
    lines = [f"### {index}. {curve.label}: {closing_text(curve)}", ""]
    path = plot_path(index, curve)
    if path is None:
        return [*lines, "No value at any evaluation step: nothing to plot.", ""]
    lines += [f"![{curve.label} over training]({path})", ""]
    fit = curve.trend
    if fit.decided:
        span = ", ".join(map(str, fit.steps))
        lines += [
            f"Trend fit over steps {span}: the fitted gap changed by {_signed(fit.gap_change)} "
            f"(combined SE {_num(fit.combined_se)}).",
            "",
        ]
    lines += ["| step | n | bench mean ± SE | z | verdict | left out |", "|" + "---|" * 6]
    for step, n, mean, se, z, verdict, out in curve.rows():
        bench = f"{_num(mean)} ± {_num(se) if se is not None else '?'}"
        lines.append(f"| {step} | {n} | {bench} | {_signed(z)} | {verdict} | {out or '—'} |")
    return [*lines, ""]


def curve_png(curve: EntryCurve) -> bytes | None:
    """Bench's mean ± SE against steps (log x-axis) over the published value ± its SE as a
    band; None when there is nothing to draw."""
    points = [(row[0], row[2], row[3]) for row in curve.rows() if row[2] is not None]
    if not points:
        return None
    steps, means, ses = zip(*points, strict=True)
    spread = [math.nan if se is None else se for se in ses]  # one seed: no band
    band = Band(f"bench mean ± SE ({max(curve.ns)} seeds)", steps, means, spread)
    published = f"published {_num(curve.published)} ± {_num(curve.published_se)} (SE)"
    return curves_png(
        [band],
        title=f"{curve.label}: {curve.trend.label}",
        ylabel=curve.metric,
        log_x=True,
        reference=Reference(published, curve.published, curve.published_se),
    )
