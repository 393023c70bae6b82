"""Published values over training: the per-step series built from constructed trial records,
first match, the trend rule on constructed series, and what reproduction.md/.json and the plots
carry."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from bench.report.reproduction import reproduction_markdown
from bench.reproduce.curves import (
    StepComparison,
    entry_curve,
    first_match_step,
    least_squares_slope,
    reproduction_curves,
    step_comparisons,
    step_values,
    trend,
)
from bench.reproduce.run import write_reproduction
from bench.reproduce.verdicts import compare, judge, judge_reference
from bench.suite.published import PublishedEntry
from tests.reproduce.test_reproduce import entry, published, reference, trial

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
LABELS = {"model": "gan", "dataset": "ring8", "metric": "modes", "variant": "-"}


def evaluated(t, by_step, key="modes", status="completed"):
    """A trial record with one evaluation per step ({step: value}, None for not computable);
    `final` is the last evaluation's metrics, as the results store writes it."""
    evaluations = [
        {
            "step": step,
            "metrics": {} if value is None else {key: value},
            "not_computable": {key: "no samples"} if value is None else {},
        }
        for step, value in sorted(by_step.items())
    ]
    last = evaluations[-1] if evaluations else {"metrics": {}, "not_computable": {}}
    return (
        t,
        {
            "trial_id": t.trial_id,
            "status": status,
            "step": max(by_step, default=0),
            "final": dict(last["metrics"]),
            "not_computable": last["not_computable"],
            "evaluations": evaluations,
        },
    )


def seeds(*columns, **kw):
    """One trial per seed; `columns[i]` maps step -> the seed's value."""
    return [evaluated(trial(seed=i, **kw), column) for i, column in enumerate(columns)]


def point(step, values, value=10.0, se=0.4, left_out=""):
    """A step of a constructed series: `values` over seeds judged against value ± se."""
    pub = PublishedEntry.model_validate(entry(value=value, spread=se, spread_kind="se"))
    return StepComparison(step, judge(pub, values, labels=LABELS), left_out)


def series(gaps, steps=(10, 100, 1000, 10000), se=0.4):
    """One seed per step at `gap` below the published 10 (bench SE unknown: combined = se)."""
    return [point(s, [10.0 - g], se=se) for s, g in zip(steps, gaps, strict=False)]


# ------------------------------------------------------------------ the series


def test_every_step_is_judged_like_the_final_value():
    pub = published(entry(value=7.0, spread=0.5, spread_kind="se"))
    recs = seeds({100: 3.0, 1000: 6.0, 3000: 7.5}, {100: 4.0, 1000: 7.0, 3000: 8.0})
    [curve] = reproduction_curves(pub, recs)
    assert curve.steps == [100, 1000, 3000] and curve.ns == [2, 2, 2]
    assert curve.means == pytest.approx([3.5, 6.5, 7.75])
    assert curve.ses[0] == pytest.approx(0.5 / math.sqrt(1))  # std 0.707 / sqrt(2)
    assert curve.zs[0] == pytest.approx(-3.5 / math.hypot(0.5, 0.5))
    assert curve.verdicts == ["mismatch", "match", "match"]
    assert curve.first_match_step == 1000
    assert curve.published == 7.0 and curve.published_se == 0.5
    # the last step is the final comparison, unchanged
    [final] = compare(pub, recs)
    assert (curve.means[-1], curve.ses[-1], curve.zs[-1]) == (
        final.bench_mean,
        final.bench_se,
        final.z,
    )
    assert curve.verdicts[-1] == final.verdict


def test_a_seed_missing_a_step_is_left_out_there_and_named():
    pub = published(entry(value=7.0, spread=0.5, spread_kind="se"))
    recs = seeds({100: 3.0, 1000: 6.0}, {100: 4.0, 1000: None}, {1000: 6.5})
    [point_100, point_1000] = step_comparisons(pub.entries[0], recs, 2.0)
    assert point_100.comparison.n == 2 and "1 of 3 seeds left out (seed 2" in point_100.left_out
    assert point_1000.comparison.n == 2 and "seed 1" in point_1000.left_out
    assert point_1000.comparison.bench_mean == pytest.approx(6.25)


def test_trials_that_did_not_complete_are_left_out_everywhere():
    recs = seeds({100: 3.0, 200: 6.0}) + [evaluated(trial(seed=1), {100: 99.0}, status="diverged")]
    [curve] = reproduction_curves(published(entry(spread=1, spread_kind="se")), recs)
    assert curve.ns == [1, 1] and curve.means == [3.0, 6.0]
    assert curve.left_out == ["", ""]  # the diverged seed is not one of the row's seeds


def test_a_final_value_without_evaluations_counts_at_the_last_step():
    _, metrics = evaluated(trial(), {100: 1.0, 200: 2.0})
    metrics["final"]["d_gap"] = 0.3  # a metric over the history, measured when the trial ends
    assert step_values(metrics, "d_gap") == {200: 0.3}
    assert step_values(metrics, "modes") == {100: 1.0, 200: 2.0}
    metrics["evaluations"][0]["metrics"]["modes"] = math.nan
    assert step_values(metrics, "modes") == {200: 2.0}


def test_an_entry_without_values_has_an_empty_curve():
    [curve] = reproduction_curves(published(entry(model="vae")), seeds({100: 3.0}))
    assert curve.steps == [] and curve.first_match_step is None
    assert curve.trend.label == "n/a (fewer than 3 evaluations)"


def test_first_match_step():
    assert first_match_step([point(10, [5.0]), point(20, [9.9]), point(30, [5.0])]) == 20
    assert first_match_step([point(10, [5.0]), point(20, [6.0])]) is None
    assert first_match_step([]) is None


# ------------------------------------------------------------------ the trend rule


def test_least_squares_slope():
    assert least_squares_slope([0, 1, 2], [1, 3, 5]) == pytest.approx(2.0)
    assert least_squares_slope([0, 1, 2, 3], [1, -1, 1, -1]) == pytest.approx(-0.4)
    assert least_squares_slope([1, 1], [0, 5]) == 0.0


def test_closing_when_the_gap_shrinks_by_more_than_one_combined_se():
    # gaps fall linearly in log(step): the fitted change is exactly -0.6 over the window
    found = trend(series([1.0, 0.8, 0.6, 0.4]))
    assert found.label == "closing" and found.steps == (10, 100, 1000, 10000)
    assert found.gap_change == pytest.approx(-0.6) and found.combined_se == pytest.approx(0.4)


def test_widening_when_the_gap_grows_by_more_than_one():
    assert trend(series([0.4, 0.6, 0.8, 1.0])).label == "widening"


def test_flat_when_the_change_is_within_one_combined_se():
    assert trend(series([1.0, 0.8, 0.6, 0.4], se=0.7)).label == "flat"
    assert trend(series([0.5, 0.7, 0.4, 0.6])).label == "flat"  # wiggles, no direction


def test_the_gap_is_a_distance_crossing_the_published_value_is_not_closing():
    # -1.5, -0.5, +0.5, +1.5 around the published value: as far off at the end as at the start
    assert trend(series([1.5, 0.5, -0.5, -1.5], se=0.2)).label == "flat"


def test_only_the_last_four_evaluations_count():
    early_swing = series([9.0, 0.4, 0.6, 0.8, 1.0], steps=(1, 10, 100, 1000, 10000))
    found = trend(early_swing)
    assert found.label == "widening" and found.steps == (10, 100, 1000, 10000)


def test_too_few_evaluations_give_no_trend():
    assert trend(series([1.0, 0.4])).label == "n/a (fewer than 3 evaluations)"
    assert trend([]).label == "n/a (fewer than 3 evaluations)"
    assert not trend(series([1.0, 0.4])).decided and trend(series([1.0, 0.8, 0.6])).decided


def test_steps_with_a_seed_left_out_do_not_enter_the_trend():
    full = series([1.0, 0.9, 0.8, 0.0])
    assert trend(full).label == "closing"
    holed = [*full[:3], replace(full[3], left_out="1 of 2 seeds left out (seed 1: ...)")]
    found = trend(holed)  # the last step's mean is over another set of seeds: not comparable
    assert found.steps == (10, 100, 1000) and found.label == "flat"
    two_complete = [full[0], replace(full[1], left_out="seed 1"), full[2], holed[3]]
    assert trend(two_complete).label == "n/a (fewer than 3 evaluations with every seed)"


def test_the_yardstick_is_the_median_combined_se_over_the_window():
    steps = [point(10, [9.0, 9.0], se=0.1), point(100, [9.5, 9.5], se=0.1)]
    steps += [point(1000, [9.2, 10.8], se=0.1), point(10000, [9.9, 9.9], se=0.1)]
    found = trend(steps)  # one step's wide spread does not set the yardstick
    assert found.combined_se == pytest.approx(0.1) and found.label == "closing"


# ------------------------------------------------------------------ reproduction.md and .json


def closing_run():
    """Two seeds closing in on the published 7.0 ± 0.5 over four log-spaced evaluations."""
    return seeds(
        {100: 2.0, 1000: 4.0, 10000: 6.0, 30000: 7.0},
        {100: 2.4, 1000: 4.4, 10000: 6.4, 30000: 7.4},
    )


def test_report_has_the_closing_column_and_a_plot_per_entry(tmp_path):
    pub = published(
        entry(value=7.0, spread=0.5, spread_kind="se"),
        entry(model="vae", value=1.0),  # no trial: missing, no plot
        reference_checks=[reference("fid", 1.0, samples=10).model_dump()],
    )
    recs = closing_run()
    comparisons = compare(pub, recs) + [judge_reference(pub.reference_checks[0], [])]
    curves = reproduction_curves(pub, recs)
    path = write_reproduction(
        tmp_path, comparisons, pub, title="toy / r1", deviations=[], curves=curves
    )
    text = path.read_text()
    assert "| verdict | closing? |" in text
    rows = [line for line in text.splitlines() if line.startswith("| gan ")]
    assert rows[0].endswith("| closing; first match at step 10000 |")
    assert rows[0].count("|") == 10  # 9 cells
    assert "n/a (fewer than 3 evaluations); never matched" in text  # the vae row
    [check] = [line for line in text.splitlines() if line.startswith("| (none: real vs real)")]
    assert check.endswith("| — (no training) |")
    link = "reproduction/01-gan-ring8-modes.png"
    assert f"]({link})" in text and (tmp_path / link).read_bytes().startswith(PNG_MAGIC)
    assert sorted(p.name for p in (tmp_path / "reproduction").iterdir()) == [
        "01-gan-ring8-modes.png"
    ]
    assert "No value at any evaluation step" in text
    assert "| 1000 | 2 | 4.2 ± 0.2 |" in text  # the per-step table


def test_json_carries_the_series_first_match_and_trend(tmp_path):
    pub = published(entry(value=7.0, spread=0.5, spread_kind="se"))
    recs = closing_run()
    curves = reproduction_curves(pub, recs)
    write_reproduction(tmp_path, compare(pub, recs), pub, title="t", deviations=[], curves=curves)
    stored = json.loads((tmp_path / "reproduction.json").read_text())
    [row] = stored["comparisons"]
    assert [p["step"] for p in row["series"]] == [100, 1000, 10000, 30000]
    assert set(row["series"][0]) == {"step", "n", "mean", "se", "z", "verdict", "left_out"}
    assert row["series"][1]["n"] == 2 and row["series"][1]["mean"] == pytest.approx(4.2)
    assert row["first_match_step"] == 10000 and row["trend"] == "closing"
    assert row["trend_fit"]["steps"] == [100, 1000, 10000, 30000]
    assert row["trend_fit"]["gap_change"] < -row["trend_fit"]["combined_se"]
    assert row["verdict"] == row["series"][-1]["verdict"] == "match"  # the final stays final


def test_an_infinite_z_is_stored_as_null():
    # no uncertainty on either side (no published spread, one seed): z is ±inf
    [curve] = reproduction_curves(published(entry(value=7.0)), seeds({100: 5.0}))
    assert curve.zs == [None] and curve.verdicts == ["mismatch"]
    assert json.loads(json.dumps(curve.to_dict()))["series"][0]["z"] is None


def test_a_run_evaluated_twice_still_reports(tmp_path):
    pub = published(entry(value=7.0, spread=0.5, spread_kind="se"))
    recs = seeds({1500: 6.8, 3000: 9.0}, {1500: 7.0, 3000: 9.2})
    curve = entry_curve(pub.entries[0], recs, pub.threshold)
    assert curve.trend.label == "n/a (fewer than 3 evaluations)" and curve.trend.steps == ()
    assert curve.first_match_step == 1500 and curve.verdicts[-1] == "mismatch"
    text = reproduction_markdown(compare(pub, recs), pub, title="t", deviations=[], curves=[curve])
    assert "n/a (fewer than 3 evaluations); first match at step 1500" in text
    assert "Trend fit" not in text
