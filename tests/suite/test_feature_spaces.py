"""A suite's `feature_spaces:` (suite level and per dataset entry): planned onto the trials only
when given, every name checked against the registry and the dataset it measures."""

from __future__ import annotations

import json
import textwrap

import pytest

from bench.errors import SuiteError
from bench.suite import Trial, expand, parse_suite, reported_keys

BASE = """\
name: spaces
seeds: [0]
budget: {steps: 10, eval_every: 10, eval_samples: 100}
datasets: [ring8, digits]
models: [{name: gan}]
"""


def error_of(text: str) -> str:
    with pytest.raises(SuiteError) as info:
        parse_suite(textwrap.dedent(text), source="s.yaml")
    return info.value.message()


def by_dataset(text: str) -> dict[str, Trial]:
    return {t.dataset_label: t for t in expand(parse_suite(text))}


def test_without_the_key_trials_and_configs_are_as_before() -> None:
    for trial in expand(parse_suite(BASE)):
        assert trial.feature_spaces is None and trial.further_spaces == ()
        assert "feature_spaces" not in trial.to_dict()
        assert Trial.from_dict(trial.to_dict()) == trial


def test_a_dataset_entry_lists_its_spaces_and_only_its_trials_carry_them() -> None:
    text = BASE.replace("digits]", "{name: digits, feature_spaces: [classifier, raw]}]")
    trials = by_dataset(text)
    assert trials["ring8"].feature_spaces is None
    digits = trials["digits"]
    assert digits.feature_spaces == ("classifier", "raw") and digits.further_spaces == ("raw",)
    assert digits.to_dict()["feature_spaces"] == ["classifier", "raw"]
    assert Trial.from_dict(json.loads(json.dumps(digits.to_dict()))) == digits
    # the trial id is the one the suite gave before: the spaces change no training
    assert digits.trial_id == by_dataset(BASE)["digits"].trial_id
    assert digits.metrics == by_dataset(BASE)["digits"].metrics


def test_the_entry_list_wins_over_the_suite_list() -> None:
    text = BASE.replace("datasets: [ring8, digits]", "feature_spaces: [raw]\n").replace(
        "\nmodels", "datasets: [ring8, {name: digits, feature_spaces: [classifier, raw]}]\nmodels"
    )
    trials = by_dataset(text)
    assert trials["ring8"].feature_spaces == ("raw",)
    assert trials["digits"].feature_spaces == ("classifier", "raw")


def test_the_first_space_is_the_primary_and_decides_which_metrics_apply() -> None:
    """Raw pixels give no logits or classes; the classifier after them does, so IS and
    class_modes stay among the trial's metrics (measured in the classifier space only)."""
    text = BASE.replace("digits]", "{name: digits, feature_spaces: [raw, classifier]}]")
    digits = by_dataset(text)["digits"]
    assert {"fid", "is", "class_modes"} <= set(digits.metrics)
    raw_only = BASE.replace("digits]", "{name: digits, feature_spaces: [raw]}]")
    assert not {"is", "class_modes"} & set(by_dataset(raw_only)["digits"].metrics)


def test_keys_of_further_spaces_are_reported_with_the_base_direction() -> None:
    text = BASE.replace("digits]", "{name: digits, feature_spaces: [classifier, raw]}]")
    keys = reported_keys(parse_suite(text))
    assert keys["fid@raw"] == keys["fid"] == "min"
    assert keys["precision@raw"] == "max"
    asha = "scheduler: {asha: {metric: fid@raw, grace_period: 5}}\n"
    parse_suite(text + asha)  # a further space's key may drive the scheduler


def test_an_unknown_space_is_refused_with_did_you_mean_at_its_line() -> None:
    message = error_of(
        """\
        name: spaces
        seeds: [0]
        budget: {steps: 10, eval_every: 10}
        datasets:
          - ring8
          - name: digits
            feature_spaces: [classifier, rwa]
        models: [{name: gan}]
        """
    )
    assert "s.yaml:7" in message and "datasets[1].feature_spaces[1]" in message
    assert "unknown feature space 'rwa'" in message and "Did you mean 'raw'" in message


def test_a_space_that_cannot_measure_the_dataset_is_refused_with_the_reason() -> None:
    message = error_of(
        """\
        name: spaces
        seeds: [0]
        budget: {steps: 10, eval_every: 10}
        feature_spaces: [raw, inception]
        datasets: [ring8]
        models: [{name: gan}]
        """
    )
    assert "s.yaml:4" in message and "feature_spaces[1]" in message
    assert "'inception' cannot measure dataset 'ring8'" in message
    assert "grey or RGB images" in message
    message = error_of(BASE.replace("ring8,", "{name: ring8, feature_spaces: [classifier]},"))
    assert "s.yaml:4" in message and "datasets[0].feature_spaces[0]" in message
    assert "C×H×W images" in message


@pytest.mark.parametrize("spaces", ["[raw, raw]", "[]"])
def test_a_repeated_space_or_an_empty_list_is_refused(spaces: str) -> None:
    message = error_of(BASE.replace("ring8,", f"{{name: ring8, feature_spaces: {spaces}}},"))
    assert "s.yaml:4" in message and "feature_spaces" in message
