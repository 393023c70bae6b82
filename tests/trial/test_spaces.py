"""Further feature spaces: the real splits embedded in each (cached), the metrics of the features
measured in each under suffixed keys, the others once, and the protocol naming every space."""

from __future__ import annotations

import pytest
import torch

from bench.metrics import FEATURE_SPACES, METRICS
from bench.metrics.base import SPACE_MARK, metric_keys, ranking_keys, space_key, split_key
from bench.metrics.fidelity import frechet_distance
from bench.trial.evaluate import Evaluator, measurement_protocol, prepare_dataset

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def digits():
    """digits measured in its classifier space, then in raw pixels."""
    return prepare_dataset("digits", {}, "digits", 300, spaces=["classifier", "raw"])


@pytest.fixture(scope="module")
def plain():
    return prepare_dataset("digits", {}, "digits", 300)


def test_the_assets_hold_each_space_with_the_first_as_primary(digits, plain) -> None:
    assert digits.spaces == ("classifier", "raw") and plain.spaces == ("classifier",)
    assert torch.equal(digits.reference.features, plain.reference.features)
    (raw,) = digits.further
    rows = digits.splits.train[digits.reference_index]
    assert torch.equal(raw.reference.features, rows.reshape(len(rows), -1).double())
    assert torch.equal(raw.heldout.features, digits.splits.heldout.flatten(1).double())


def test_metrics_of_the_features_are_measured_in_every_space(digits, plain) -> None:
    names = ["fid", "kid", "is", "class_modes", "prdc"]
    samples = digits.splits.heldout[:200]
    both = Evaluator(digits, names, 0, CPU).measure(samples)
    alone = Evaluator(plain, names, 0, CPU).measure(samples)
    assert both.not_computable == {} and alone.not_computable == {}
    # the primary space keeps the plain keys and values of a suite without the list
    assert {k: v for k, v in both.values.items() if SPACE_MARK not in k} == alone.values
    further = {k for k in both.values if SPACE_MARK in k}
    assert {"fid@raw", "kid@raw", "kid_std@raw", "precision@raw", "coverage@raw"} <= further
    # raw pixels give no logits or classes: IS and class modes are not reported there
    assert not {"is@raw", "class_modes@raw"} & further
    expected = frechet_distance(digits.further[0].reference.features, samples.flatten(1).double())
    assert both.values["fid@raw"] == pytest.approx(expected, rel=1e-9)
    assert both.values["fid@raw"] != pytest.approx(both.values["fid"])
    assert "embedding@raw" in both.seconds and "fid@raw" in both.seconds


def test_a_metric_the_primary_space_cannot_give_is_measured_where_it_applies() -> None:
    assets = prepare_dataset("digits", {}, "digits", 300, spaces=["raw", "classifier"])
    result = Evaluator(assets, ["fid", "is"], 0, CPU).measure(assets.splits.heldout[:200])
    assert result.not_computable == {}
    assert set(result.values) == {"fid", "fid@classifier", "is@classifier", "is_std@classifier"}


def test_non_finite_samples_are_not_computable_once_per_metric(digits) -> None:
    samples = digits.splits.heldout[:50].clone()
    samples[0] = float("nan")
    result = Evaluator(digits, ["fid"], 0, CPU).measure(samples)
    assert result.values == {} and set(result.not_computable) == {"fid"}


def test_the_protocol_records_every_space_and_only_then(digits, plain) -> None:
    with_raw = measurement_protocol(digits, 100, ["fid"])
    without = measurement_protocol(plain, 100, ["fid"])
    assert with_raw["extractor@raw"] == "none"  # raw has no network to hash
    assert {k: v for k, v in with_raw.items() if k != "extractor@raw"} == without
    assert not any(SPACE_MARK in key for key in without)


def test_suffixed_keys_resolve_to_the_base_metric_and_its_direction() -> None:
    assert split_key("fid@dinov2") == ("fid", "dinov2") and split_key("fid") == ("fid", None)
    assert space_key("kid_std", "raw") == "kid_std@raw" and space_key("fid", None) == "fid"
    keys = metric_keys(["fid", "modes", "prdc"], ["raw"])
    # the primary space's keys first and unchanged; a metric of samples (modes) only once
    primary = list(metric_keys(["fid", "modes", "prdc"]))
    assert list(keys)[: len(primary)] == primary
    assert keys["fid@raw"] == "min" and keys["recall@raw"] == "max"
    assert "modes@raw" not in keys
    assert ranking_keys(["fid", "stability"]) == [("fid", "min")]
    assert ranking_keys(["fid", "stability"], ["raw"]) == [("fid", "min"), ("fid@raw", "min")]


def test_no_metric_key_or_space_name_holds_the_mark() -> None:
    assert not [k for _, m in METRICS for k in m.directions if SPACE_MARK in k]
    assert not [name for name in FEATURE_SPACES.names() if SPACE_MARK in name]
