"""Suites that include one another, and --set overrides: merging, origins in errors, refusals."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from bench.errors import SuiteError
from bench.results.store import suite_yaml
from bench.suite import load_suite

SUITES = Path(__file__).resolve().parents[2] / "suites"

BASE = """\
name: base
seeds: [0, 1]
budget: {steps: 20, eval_every: 10, eval_samples: 200}
resources: {cpu: 1, gpu: 0}
datasets: [ring8]
models:
  - {name: gan, hparams: {lr: 1.0e-3, batch_size: 64}}
metrics: [modes]
tracking: {wandb: disabled}
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_the_including_file_wins_mappings_merge_and_lists_replace(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", BASE)
    top = write(
        tmp_path,
        "top.yaml",
        "include: base.yaml\nname: top\nseeds: [5]\nbudget: {steps: 30}\n",
    )
    suite = load_suite(top)
    assert suite.name == "top"
    assert suite.seeds == [5]  # a list replaces the included list whole
    assert suite.budget.steps == 30 and suite.budget.eval_every == 10  # mappings merge
    assert [t.seed for t in suite.trials] == [5]


def test_later_includes_win_over_earlier_ones(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", BASE)
    write(tmp_path, "long.yaml", "budget: {steps: 40}\nseeds: [7]\n")
    top = write(tmp_path, "top.yaml", "include: [base.yaml, long.yaml]\nseeds: [8]\n")
    suite = load_suite(top)
    assert suite.budget.steps == 40 and suite.seeds == [8]


def test_an_error_in_an_included_value_names_that_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", BASE.replace("steps: 20", "steps: -3"))
    top = write(tmp_path, "top.yaml", "\n\ninclude: base.yaml\nname: top\n")
    with pytest.raises(SuiteError) as caught:
        load_suite(top)
    assert f"{tmp_path / 'base.yaml'}:3 (budget.steps)" in caught.value.message()


def test_an_overriding_value_is_located_in_the_including_file(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", BASE)
    top = write(tmp_path, "top.yaml", "include: base.yaml\nname: top\nbudget: {steps: -3}\n")
    with pytest.raises(SuiteError) as caught:
        load_suite(top)
    assert f"{top}:3 (budget.steps)" in caught.value.message()


def test_a_missing_include_is_refused_at_its_line(tmp_path: Path) -> None:
    top = write(tmp_path, "top.yaml", "name: top\ninclude:\n  - base.yaml\n  - nothere.yaml\n")
    write(tmp_path, "base.yaml", BASE)
    with pytest.raises(SuiteError) as caught:
        load_suite(top)
    text = caught.value.message()
    assert "nothere.yaml" in text and f"{top}:4" in text


def test_a_circle_of_includes_is_refused_naming_the_chain(tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", "include: b.yaml\nname: a\n")
    write(tmp_path, "b.yaml", "include: a.yaml\n")
    with pytest.raises(SuiteError) as caught:
        load_suite(a)
    text = caught.value.message()
    assert "circle" in text and "a.yaml -> " in text and "b.yaml -> " in text


def test_set_overrides_after_includes_reading_the_value_as_yaml(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", BASE)
    top = write(tmp_path, "top.yaml", "include: base.yaml\n")
    suite = load_suite(top, ["models.0.hparams.lr=2e-4", "seeds=[3, 4]", "name=other"])
    assert suite.name == "other" and suite.seeds == [3, 4]
    assert {t.hparams["lr"] for t in suite.trials} == {2e-4}


def test_set_with_an_unknown_key_names_the_option_and_suggests(tmp_path: Path) -> None:
    path = write(tmp_path, "base.yaml", BASE)
    with pytest.raises(SuiteError) as caught:
        load_suite(path, ["budgt.steps=5"])
    text = caught.value.message()
    assert "--set budgt.steps=5" in text and "budget" in text
    with pytest.raises(SuiteError, match="key.path=value"):
        load_suite(path, ["budget.steps"])


def test_the_saved_suite_is_the_resolved_one_and_loads_back_alone(tmp_path: Path) -> None:
    suite = load_suite(SUITES / "published" / "pacgan_2d_gpu.yaml")
    saved = write(tmp_path, "suite.yaml", suite_yaml(suite))
    assert "include" not in yaml.safe_load(saved.read_text())
    again = load_suite(saved)
    assert [t.trial_id for t in again.trials] == [t.trial_id for t in suite.trials]
    assert again.published == suite.published
