"""reproduction.md: the comparison of a run with its paper, as a reader sees it."""

from __future__ import annotations

import math
from collections.abc import Sequence

from bench.published import Published
from bench.reproduce.compare import MATCH, MISMATCH, MISSING, Comparison, all_matched


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
