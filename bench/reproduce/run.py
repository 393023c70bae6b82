"""A whole reproduction: a finished run of a suite against its published section, written as
reproduction.md, reproduction.json and one plot per published entry over training
(reproduction/<row>-<entry>.png) into the run folder."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from bench.errors import BenchError
from bench.io import write_bytes, write_json, write_text
from bench.report.reproduction import curve_png, plot_path, reproduction_markdown
from bench.reproduce.curves import EntryCurve, reproduction_curves
from bench.reproduce.verdicts import (
    Comparison,
    all_matched,
    check_run_for_suite,
    compare,
    comparisons_json,
    judge_reference,
    measure_reference,
)
from bench.suite.published import Published, deviations, resolve_dataset
from bench.suite.schema import Suite
from bench.trial import Trial


def write_reproduction(
    folder: Path,
    comparisons: Sequence[Comparison],
    published: Published,
    *,
    title: str,
    deviations: list[str],
    curves: Sequence[EntryCurve] = (),
) -> Path:
    """reproduction.md, reproduction.json and the entries' plots into `folder` (atomically);
    the markdown's path. `curves[i]` belongs to `comparisons[i]` (see reproduction_curves)."""
    write_curve_plots(folder, curves)
    text = reproduction_markdown(
        comparisons, published, title=title, deviations=deviations, curves=curves
    )
    rows = comparisons_json(comparisons)
    for row, curve in zip(rows, curves, strict=False):  # reference checks come after the curves
        row.update(curve.to_dict())
    write_json(
        Path(folder) / "reproduction.json",
        {
            "title": title,
            "all_matched": all_matched(comparisons),
            "threshold": published.threshold,
            "deviations": deviations,
            "comparisons": rows,
        },
    )
    return write_text(Path(folder) / "reproduction.md", text)


def write_curve_plots(folder: Path, curves: Sequence[EntryCurve]) -> list[Path]:
    """One PNG per entry with a value at some step, at the path reproduction.md links to."""
    written = []
    for index, curve in enumerate(curves, 1):
        path, png = plot_path(index, curve), curve_png(curve)
        if path is not None and png is not None:
            written.append(write_bytes(Path(folder) / path, png))
    return written


def reference_comparisons(suite: Suite, trials: Sequence[Trial]) -> list[Comparison]:
    """Every reference check of the suite, measured on the dataset's whole training split against
    its held-out split in the dataset's feature space."""
    from bench.trial.evaluate import prepare_dataset

    assert suite.published is not None
    found = []
    for check in suite.published.reference_checks:
        label = resolve_dataset(check.dataset, trials)
        ref = next(d for d in suite.datasets if d.label == label)
        primary = (suite.spaces_of(ref) or ())[:1]  # the space of the plain keys
        assets = prepare_dataset(ref.name, ref.params, label, sys.maxsize, primary or None)
        values = measure_reference(check, assets.reference, assets.heldout)
        found.append(judge_reference(check, values, suite.published.threshold))
    return found


def reproduce_run(suite: Suite, run_dir: Path) -> tuple[list[Comparison], Path]:
    """Compare the finished run in `run_dir` with the suite's published section; writes
    reproduction.md/.json into the run folder. Returns the comparisons and the markdown's path."""
    from bench.results.folder import load_trials

    if suite.published is None:
        raise BenchError(
            f"suite '{suite.name}' has no `published:` section, so there is nothing to reproduce",
            where=str(suite.source or suite.name),
            fix="add published entries (see suites/published/*.yaml) or use `bench run`",
        )
    check_run_for_suite(suite.name, run_dir)
    trials = suite.trials
    records = load_trials(run_dir)
    comparisons = compare(suite.published, records)
    comparisons += reference_comparisons(suite, trials)
    path = write_reproduction(
        run_dir,
        comparisons,
        suite.published,
        title=f"{suite.name} / {run_dir.name}",
        deviations=deviations(suite.published, trials),
        curves=reproduction_curves(suite.published, records),
    )
    return comparisons, path
