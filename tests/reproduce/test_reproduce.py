"""Reproducing published numbers: schema, validation against a suite's trials, the verdict on
constructed runs, the report and the model-free reference checks."""

from __future__ import annotations

import json
import math

import pytest
import torch
from pydantic import ValidationError

from bench.errors import BenchError
from bench.metrics import Features
from bench.report.reproduction import reproduction_markdown
from bench.reproduce.run import write_reproduction
from bench.reproduce.verdicts import (
    all_matched,
    check_run_for_suite,
    compare,
    comparisons_json,
    judge_reference,
    measure_reference,
)
from bench.suite import Trial
from bench.suite.published import (
    Published,
    PublishedEntry,
    ReferenceCheck,
    check_published,
    deviations,
)

SOURCE = {"paper": "Lin et al. 2018 (PacGAN)", "table": "Table 2"}
BUDGET = {"steps": 1000, "eval_every": 500, "eval_samples": 2000}


def trial(model="gan", dataset="ring8", seed=0, grid=None, metrics=("modes",), **hparams):
    grid = grid or {}
    hparams = {"lr": 2e-4, **hparams, **grid}
    return Trial(
        trial_id=f"{model}-{dataset}-{json.dumps(grid, sort_keys=True)}-s{seed}",
        suite="toy",
        model=model,
        model_label=model,
        dataset=dataset,
        dataset_label=dataset,
        dataset_params={},
        hparams=hparams,
        grid=grid,
        seed=seed,
        metrics=tuple(metrics),
        budget=dict(BUDGET),
        resources={"cpu": 1.0, "gpu": 0.0},
    )


def record(t, status="completed", **final):
    return (t, {"trial_id": t.trial_id, "status": status, "final": final, "not_computable": {}})


def entry(**changes):
    base = {"model": "gan", "dataset": "ring8", "metric": "modes", "value": 6.3, "source": SOURCE}
    return {**base, **changes}


def published(*entries, **extra):
    return Published.model_validate({"entries": list(entries), **extra})


def run(values, key="modes", **kw):
    """One completed trial per value, seeds 0.. (the rows of one leaderboard row)."""
    return [record(trial(seed=i, **kw), **{key: v}) for i, v in enumerate(values)]


# ------------------------------------------------------------------ verdicts


def test_match_within_combined_uncertainty():
    pub = published(entry(value=6.3, spread=0.5, spread_kind="se"))
    [c] = compare(pub, run([6.0, 6.5, 7.0]))
    # bench: mean 6.5, SE = std/sqrt(3) = 0.5/sqrt(3); combined with the published 0.5
    se_bench = 0.5 / math.sqrt(3)
    assert c.n == 3 and c.bench_mean == pytest.approx(6.5)
    assert c.bench_se == pytest.approx(se_bench)
    assert c.combined_se == pytest.approx(math.hypot(0.5, se_bench))
    assert c.z == pytest.approx(0.2 / math.hypot(0.5, se_bench))
    assert c.verdict == "match" and all_matched([c])


def test_mismatch_reports_its_size():
    pub = published(entry(value=6.3, spread=0.1, spread_kind="se"))
    [c] = compare(pub, run([4.0, 4.2, 4.4]))
    assert c.verdict == "mismatch" and not all_matched([c])
    assert c.difference == pytest.approx(-2.1)
    assert c.relative == pytest.approx(-2.1 / 6.3)
    assert c.z == pytest.approx(-2.1 / math.hypot(0.1, 0.2 / math.sqrt(3)))
    text = reproduction_markdown([c], pub, title="toy / r1", deviations=[])
    assert "**mismatch** by -2.1, -33.3 %" in text
    assert "NOT all matched: 0 of 1" in text


def test_threshold_is_a_parameter():
    one = entry(value=5.5, spread=0.5, spread_kind="se")  # z = 1 / 0.577 = 1.73
    loose = compare(published(one), run([6.0, 6.5, 7.0]))
    strict = compare(published(one, threshold=1.0), run([6.0, 6.5, 7.0]))
    assert abs(loose[0].z) < 2.0 and abs(loose[0].z) > 1.0
    assert loose[0].verdict == "match" and strict[0].verdict == "mismatch"


def test_missing_metric_is_not_a_match_and_says_why():
    failed = [record(trial(seed=0), status="failed"), record(trial(seed=1), status="diverged")]
    pub = published(entry(spread=0.5, spread_kind="se"))
    [c] = compare(pub, failed)
    assert c.verdict == "missing" and c.bench_mean is None and c.n == 0
    assert "1 × trial failed" in c.flags[-1] and "1 × trial diverged" in c.flags[-1]
    assert not all_matched([c])
    [none] = compare(pub, [])
    assert none.verdict == "missing" and "no trial for this row" in none.flags[-1]


def test_completed_trial_without_the_key_is_missing():
    t = trial()
    rec = (t, {"status": "completed", "final": {"fid": 3.0}, "not_computable": {"modes": "why"}})
    [c] = compare(published(entry(spread=0.5, spread_kind="se")), [rec])
    assert c.verdict == "missing" and "modes: why" in c.flags[-1]


def test_partly_failed_seeds_are_flagged_and_the_rest_compared():
    recs = run([6.0, 6.6]) + [record(trial(seed=2), status="failed")]
    [c] = compare(published(entry(spread=0.5, spread_kind="se")), recs)
    assert c.n == 2 and c.verdict == "match"
    assert any("1 of 3 seeds" in f for f in c.flags)


def test_std_over_runs_becomes_a_standard_error():
    pub = published(entry(value=28.12, spread=0.42, spread_kind="std", runs=9, metric="fid"))
    [c] = compare(pub, run([28.0, 28.2], key="fid", metrics=("fid",)))
    assert c.published_se == pytest.approx(0.42 / 3)
    assert "std, 9 runs" in reproduction_markdown([c], pub, title="t", deviations=[])


def test_std_without_runs_is_used_as_the_standard_error_and_flagged():
    pub = published(entry(value=6.3, spread=0.4, spread_kind="std"))
    [c] = compare(pub, run([6.0, 6.5]))
    assert c.published_se == pytest.approx(0.4) and c.spread_text == "std, runs not given"
    assert any("unstated number of runs" in f for f in c.flags)


def test_percent_scale():
    # the paper reports 99.7 % high-quality samples with a standard error of 0.1 %
    pub = published(
        entry(metric="high_quality", value=99.7, spread=0.1, spread_kind="se", scale=0.01)
    )
    [c] = compare(pub, run([0.996, 0.998], key="high_quality"))
    assert c.published == pytest.approx(0.997) and c.published_se == pytest.approx(0.001)
    assert c.difference == pytest.approx(0.0)
    assert c.verdict == "match"


def test_zero_uncertainty_matches_only_an_equal_value():
    pub = published(entry(value=8.0))  # no published spread
    [same] = compare(pub, run([8.0, 8.0, 8.0]))
    [near] = compare(pub, run([7.0, 7.0]))
    assert same.verdict == "match" and same.combined_se == 0.0
    assert any("exactly equal" in f for f in same.flags)
    assert any("no spread" in f for f in same.flags)
    assert near.verdict == "mismatch" and math.isinf(near.z)
    assert comparisons_json([near])[0]["z"] is None  # JSON has no infinity


def test_one_seed_uses_the_published_uncertainty_alone():
    [c] = compare(published(entry(value=6.3, spread=0.5, spread_kind="se")), run([7.2]))
    assert c.bench_se is None and c.combined_se == pytest.approx(0.5)
    assert c.z == pytest.approx(1.8) and c.verdict == "match"
    assert any("bench SE unknown with n=1" in f for f in c.flags)


def test_entry_targets_one_grid_point():
    recs = [
        record(trial(model="pacgan", seed=s, grid={"packing": p}), modes=float(p + s))
        for p in (2, 3)
        for s in (0, 1)
    ]
    pub = published(
        entry(model="pacgan", hparams={"packing": 3}, value=3.5, spread=1, spread_kind="se")
    )
    [c] = compare(pub, recs)
    assert c.variant == "packing=3" and c.bench_mean == pytest.approx(3.5)


def test_report_and_json_hold_every_number():
    pub = published(
        entry(value=6.3, spread=0.5, spread_kind="se", notes="50 runs of 2,500 samples"),
        entry(metric="reverse_kl", value=0.1),
        deviations=["3 seeds instead of 10"],
    )
    comparisons = compare(pub, run([6.0, 6.5, 7.0]))
    text = reproduction_markdown(comparisons, pub, title="toy / r1", deviations=pub.deviations)
    assert "- 3 seeds instead of 10" in text and "50 runs of 2,500 samples" in text
    assert "6.5 ± 0.2887 (n=3)" in text and "Table 2" in text
    assert "**missing**" in text and "1 of 2 published values reproduced" in text
    table = [line for line in text.splitlines() if line.startswith("| gan ")]
    assert len(table) == 2 and all(line.count("|") == 10 for line in table)  # 9 cells each
    rows = comparisons_json(comparisons)
    assert [r["verdict"] for r in rows] == ["match", "missing"]
    assert json.loads(json.dumps(rows)) == rows


# ------------------------------------------------------------------ validation


def suite_trials():
    return [
        trial(model="gan", seed=s, metrics=("modes", "fid"), grid={"lr": lr})
        for s in (0, 1)
        for lr in (1e-4, 2e-4)
    ] + [trial(model="vae", seed=0)]


def problems(*entries, **extra):
    return check_published(published(*entries, **extra), suite_trials())


def test_a_valid_entry_has_no_problems():
    assert problems(entry(hparams={"lr": 1e-4}, setup={"steps": 1000, "lr": 1e-4})) == []


@pytest.mark.parametrize(
    ("changes", "field_name", "said"),
    [
        ({"model": "gann"}, "model", "Did you mean 'gan'"),
        ({"dataset": "ring9"}, "dataset", "Did you mean 'ring8'"),
        ({"metric": "mode", "hparams": {"lr": 1e-4}}, "metric", "Did you mean 'modes'"),
        ({"metric": "fid", "model": "vae"}, "metric", "other rows of the suite do report it"),
        ({"hparams": {"l": 1e-4}}, "hparams.l", "Did you mean 'lr'"),
        ({"hparams": {"lr": 3e-4}}, "hparams", "match no grid point"),
        ({}, "hparams", "matches 2 grid points"),
        ({"hparams": {"lr": 1e-4}, "setup": {"stepz": 1}}, "setup.stepz", "'steps'"),
    ],
)
def test_bad_entries_are_named_with_a_fix(changes, field_name, said):
    [problem] = problems(entry(**changes))
    assert said in problem.what
    assert problem.where == f"published.entries[0].{field_name}" and problem.fix


def test_a_dataset_used_once_can_be_named_instead_of_labelled():
    labelled = [
        record(t, modes=6.0 + t.seed)
        for t in (
            Trial(**{**trial(seed=s).to_dict(), "dataset_label": "ring8(n_samples=500)"})
            for s in (0, 1)
        )
    ]
    pub = published(entry(dataset="ring8", spread=1, spread_kind="se"))
    assert check_published(pub, [t for t, _ in labelled]) == []
    [c] = compare(pub, labelled)
    assert c.dataset == "ring8(n_samples=500)" and c.n == 2


def test_problems_are_located_by_the_callers_locator():
    located = check_published(
        published(entry(model="x")), suite_trials(), locate=lambda p: f"suite.yaml:9 {p}"
    )
    assert located[0].where == "suite.yaml:9 ('published', 'entries', 0, 'model')"


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"spread": -0.1, "spread_kind": "se"}, "greater than or equal to 0"),
        ({"spread": 0.1, "spread_kind": "sd"}, "'std' or 'se'"),
        ({"spread": 0.1}, "without spread_kind"),
        ({"spread_kind": "se"}, "without a spread value"),
        ({"value": float("nan")}, "finite"),
        ({"scale": 0}, "greater than 0"),
        ({"colour": "red"}, "Extra inputs are not permitted"),
    ],
)
def test_malformed_values_are_refused(changes, said):
    with pytest.raises(ValidationError, match=said):
        PublishedEntry.model_validate(entry(**changes))


def test_an_empty_section_is_refused():
    with pytest.raises(ValidationError, match="no entries"):
        Published.model_validate({})


def test_deviations_are_computed_from_the_trials():
    pub = published(
        entry(hparams={"lr": 1e-4}, setup={"steps": 1000, "eval_samples": 50_000, "lr": 1e-4}),
        deviations=["declared"],
    )
    found = deviations(pub, suite_trials())
    assert found[0] == "declared"
    assert len(found) == 2 and "eval_samples is 2000 here, 50000 in the paper's setup" in found[1]


def test_a_stored_run_is_compared_and_written(tmp_path):
    """The results layout as bench run leaves it: trials/<id>/config.json and metrics.json."""
    from bench.results.folder import load_trials

    for t, metrics in run([6.0, 6.5, 7.0]):
        folder = tmp_path / "trials" / t.trial_id
        folder.mkdir(parents=True)
        (folder / "config.json").write_text(json.dumps(t.to_dict()))
        (folder / "metrics.json").write_text(json.dumps(metrics))
    pub = published(entry(value=6.3, spread=0.5, spread_kind="se"))
    comparisons = compare(pub, load_trials(tmp_path))
    path = write_reproduction(tmp_path, comparisons, pub, title="toy / r1", deviations=[])
    assert path.read_text().startswith("# Reproduction: toy / r1")
    stored = json.loads((tmp_path / "reproduction.json").read_text())
    assert stored["all_matched"] is True
    assert stored["comparisons"][0]["bench_mean"] == pytest.approx(6.5)


def test_from_run_of_another_suite_is_refused(tmp_path):
    (tmp_path / "run.json").write_text(json.dumps({"suite": "other"}))
    with pytest.raises(BenchError, match="run of suite 'other', not of 'toy'"):
        check_run_for_suite("toy", tmp_path)
    check_run_for_suite("other", tmp_path)
    with pytest.raises(BenchError, match="cannot read"):
        check_run_for_suite("toy", tmp_path / "nope")


# ------------------------------------------------------------------ reference checks


def reference(metric, value, **extra):
    return ReferenceCheck.model_validate(
        {"dataset": "ring8", "metric": metric, "value": value, "source": SOURCE, **extra}
    )


def test_reference_fid_between_two_draws_of_one_distribution_is_small():
    gen = torch.Generator().manual_seed(0)
    train = Features(torch.randn(600, 4, generator=gen, dtype=torch.float64))
    held = Features(torch.randn(600, 4, generator=gen, dtype=torch.float64) + 3.0)
    check = reference("fid", 9.0, samples=300, draws=3)
    values = measure_reference(check, train, held)
    # mean shift of 3 in each of 4 dims: FID ~ 4 * 9 = 36 plus small covariance terms
    assert len(values) == 3 and all(30 < v < 42 for v in values)
    c = judge_reference(check, values)
    assert c.n == 3 and c.verdict == "mismatch" and c.difference > 20


def test_reference_inception_score_of_confident_uniform_logits():
    # confident predictions spread over 10 classes score close to 10 (a split of 50 random
    # samples is not exactly balanced); uninformative logits score exactly 1
    logits = torch.nn.functional.one_hot(torch.arange(1000) % 10, 10).double() * 50.0
    confident = Features(torch.zeros(1000, 2, dtype=torch.float64), logits=logits)
    blank = Features(torch.zeros(1000, 2, dtype=torch.float64), logits=torch.zeros(1000, 10))
    check = reference("is", 9.0, spread=0.05, spread_kind="se", samples=500, draws=4)
    values = measure_reference(check, confident, confident)
    assert all(8.5 < v <= 10.0 for v in values) and len(set(values)) > 1
    assert measure_reference(check, blank, blank) == pytest.approx([1.0] * 4)
    c = judge_reference(check, values)
    assert c.n == 4 and c.bench_se > 0 and c.model == "(none: real vs real)"


def test_reference_check_needs_logits_and_enough_samples():
    feats = Features(torch.zeros(10, 2, dtype=torch.float64))
    with pytest.raises(BenchError, match="logits"):
        measure_reference(reference("is", 10.0, samples=5), feats, feats)
    with pytest.raises(BenchError, match="only 10"):
        measure_reference(reference("fid", 1.0, samples=50), feats, feats)


def test_reference_check_dataset_must_be_in_the_suite():
    check = {"dataset": "cifar10", "metric": "fid", "value": 10.3, "samples": 5000}
    pub = Published.model_validate({"reference_checks": [{**check, "source": SOURCE}]})
    [problem] = check_published(pub, suite_trials())
    assert problem.where == "published.reference_checks[0].dataset"


# ------------------------------------------------------------------ the shipped published suite


def test_the_cifar10_published_suite_validates_and_compares():
    """suites/published/cifar10_gans.yaml: the suite part expands, the published part names
    only what it runs, and a run of it (with constructed FIDs) gives one row per entry."""
    from pathlib import Path

    import yaml

    from bench.suite import expand, parse_suite

    path = Path(__file__).resolve().parents[2] / "suites" / "published" / "cifar10_gans.yaml"
    data = yaml.safe_load(path.read_text())
    pub = Published.model_validate(data.pop("published"))
    trials = expand(parse_suite(yaml.safe_dump(data), source=str(path)))
    assert check_published(pub, trials) == []
    assert {t.model_label for t in trials} == {"dcgan", "wgan_gp", "sngan"}
    records = [record(t, fid=28.95 + 0.1 * t.seed) for t in trials if t.model_label == "dcgan"]
    comparisons = compare(pub, records)
    assert len(comparisons) == len(pub.entries)
    assert comparisons[0].verdict == "match"  # Mimicry's 28.95 ± 0.42 against 29.05 ± 0.06
    assert {c.verdict for c in comparisons[2:]} == {"missing"}  # no WGAN-GP or SNGAN trials
    found = deviations(pub, trials)
    assert any("steps is 100000 here, 53000" in d for d in found)  # per-model budget: WGAN-GP
    assert any("eval_samples is 10000 here, 5000" in d for d in found)  # evaluates 50K already
    assert not any("eval_samples is 50000" in d for d in found)
