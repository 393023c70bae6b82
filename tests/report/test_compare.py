"""bench compare: Welch's test against scipy and by hand, the refusals, protocols, the outputs."""

from __future__ import annotations

import csv
import io
import json
import math
import statistics

import pytest
from typer.testing import CliRunner

from bench.cli import EXIT_USAGE, app
from bench.errors import BenchError
from bench.report.comparison import comparison_csv, comparison_markdown, comparison_rows
from bench.results.comparison import (
    NO_SPREAD,
    NOT_SIGNIFICANT,
    SIGNIFICANT,
    TOO_SMALL,
    compare_runs,
    welch_test,
)
from bench.results.runs import load_run
from tests.report.fake_runs import SUITE, make_run

PROTOCOL = {
    "feature_space": "raw",
    "n_generated": 100,
    "n_reference": 100,
    "versions": {"bench": "0.1.0", "torch": "2.14.1"},
}


def welch_by_hand(a: list[float], b: list[float]) -> tuple[float, float]:
    """t and two-sided p of Welch's test from the textbook formulas: the Welch-Satterthwaite
    degrees of freedom and the t distribution's tail as a regularized incomplete beta."""
    from scipy.special import betainc

    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    t = (statistics.fmean(b) - statistics.fmean(a)) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    return t, float(betainc(df / 2, 0.5, df / (df + t * t)))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ([1.0, 2.0, 4.0], [3.0, 5.0, 6.0, 8.0]),
        ([0.51, 0.49], [0.70, 0.80, 0.75]),
        ([5.0, 5.1], [5.0, 4.9]),
    ],
)
def test_welch_matches_scipy_and_the_hand_computation(a, b):
    from scipy.stats import ttest_ind

    result = welch_test(a, b)
    reference = ttest_ind(b, a, equal_var=False)
    t, p = welch_by_hand(a, b)
    assert result.t == pytest.approx(float(reference.statistic)) == pytest.approx(t)
    assert result.p == pytest.approx(float(reference.pvalue)) == pytest.approx(p)
    assert result.verdict == (SIGNIFICANT if p < 0.05 else NOT_SIGNIFICANT)


def test_welch_needs_two_seeds_and_some_spread():
    assert welch_test([1.0], [1.0, 2.0, 3.0]).verdict == TOO_SMALL
    assert welch_test([1.0, 2.0], []).verdict == TOO_SMALL
    assert welch_test([8.0, 8.0], [7.0, 7.0]).verdict == NO_SPREAD
    assert welch_test([8.0, 8.0], [7.0, 7.0]).p is None


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    a = make_run(root, "20260101-000000-aaaa", protocol=PROTOCOL)
    b = make_run(root, "20260102-000000-bbbb", shift=0.5, protocol=PROTOCOL)
    return a, b


def test_a_shifted_run_is_significantly_worse_on_fid(two_runs):
    comparison = compare_runs([load_run(p) for p in two_runs])
    rows = {(r["variant"], r["metric"]): r for r in comparison_rows(comparison)}
    fid = rows[("lr=0.001", "fid")]
    assert fid["A mean"] == pytest.approx(1.0) and fid["B mean"] == pytest.approx(1.5)
    assert fid["A n"] == 3 and fid["B n"] == 3 and fid["B - A"] == pytest.approx(0.5)
    assert fid["B vs A p"] < 0.05
    assert fid["B vs A verdict"].startswith("significant, B worse (p=")
    assert fid["B vs A protocol"] == "same"
    assert rows[("-", "modes")]["B vs A verdict"].startswith("not significant")
    # stability keys (a section) are compared too, GAN keys only for GAN rows
    assert ("lr=0.001", "d_gap") in rows and ("-", "d_gap") not in rows
    json.dumps(comparison_rows(comparison))  # plain values: ready for a wandb table


def test_markdown_and_csv_carry_the_same_numbers(two_runs):
    comparison = compare_runs([load_run(p) for p in two_runs])
    text = comparison_markdown(comparison)
    assert (
        "## ring8" in text
        and "| gan | lr=0.001 | fid ↓ | 1 ± 0.1 (n=3) | 1.5 ± 0.1 (n=3) | +0.5 |" in text
    )
    assert "Protocol B vs A: same." in text
    table = list(csv.DictReader(io.StringIO(comparison_csv(comparison))))
    assert len(table) == len(comparison.lines) and table[0]["dataset"] == "ring8"


def test_runs_of_different_suites_without_common_rows_are_refused(tmp_path):
    a = make_run(tmp_path, "20260101-000000-aaaa")
    other = SUITE.replace("name: fake", "name: other").replace("[ring8]", "[grid25]")
    b = make_run(tmp_path, "20260101-000000-bbbb", suite=other)
    with pytest.raises(BenchError, match="share no leaderboard row.*different suites"):
        compare_runs([load_run(a), load_run(b)])
    target = tmp_path / "out.md"
    result = CliRunner().invoke(app, ["compare", str(a), str(b), "-o", str(target)])
    assert result.exit_code == EXIT_USAGE and "share no leaderboard row" in result.output
    assert "Traceback" not in result.output and not target.exists()


def test_a_run_without_protocols_is_unknown_and_said_so(tmp_path):
    a = make_run(tmp_path, "20260101-000000-aaaa")
    b = make_run(tmp_path, "20260101-000000-bbbb", protocol=PROTOCOL)
    comparison = compare_runs([load_run(a), load_run(b)])
    assert comparison.protocols["ring8"] == ["B vs A: unknown (not recorded in run A)"]
    verdicts = [r["B vs A verdict"] for r in comparison_rows(comparison)]
    assert not any("NOT COMPARABLE" in v for v in verdicts)


def test_differing_protocols_are_marked_and_versions_alone_are_not_blocking(tmp_path):
    a = make_run(tmp_path, "20260101-000000-aaaa", protocol=PROTOCOL)
    bigger = {**PROTOCOL, "n_generated": 5000}
    b = make_run(tmp_path, "20260101-000000-bbbb", protocol=bigger)
    newer = {**PROTOCOL, "versions": {"bench": "0.2.0", "torch": "2.14.1"}}
    c = make_run(tmp_path, "20260101-000000-cccc", protocol=newer)
    comparison = compare_runs([load_run(p) for p in (a, b, c)])
    assert comparison.protocols["ring8"] == [
        "B vs A: differs: n_generated 100 vs 5000",
        "C vs A: versions differ: versions.bench 0.1.0 vs 0.2.0",
    ]
    row = comparison_rows(comparison)[0]
    assert row["B vs A verdict"] == "NOT COMPARABLE: protocol differs: n_generated 100 vs 5000"
    assert not row["C vs A verdict"].startswith("NOT COMPARABLE")
    assert "C - A" in row and "C n" in row


def test_cli_prints_and_writes_by_suffix(two_runs, tmp_path):
    a, b = two_runs
    runner = CliRunner()
    result = runner.invoke(app, ["compare", str(a), str(b), "-o", str(tmp_path / "c.csv")])
    assert result.exit_code == 0, result.output
    assert "ring8" in result.output and "B − A" in result.output and "significant" in result.output
    written = (tmp_path / "c.csv").read_text()
    assert written.startswith("dataset,model,variant,metric,better,A mean")
    assert "significant, B worse (p=0.0036)" in written
    result = runner.invoke(app, ["compare", str(a), str(b), "-o", str(tmp_path / "c.txt")])
    assert result.exit_code == EXIT_USAGE and ".md or a .csv" in result.output
    assert runner.invoke(app, ["compare", str(a)]).exit_code == EXIT_USAGE
