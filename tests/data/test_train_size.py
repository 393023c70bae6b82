"""`train_size` on the embedded digit datasets: a fixed, seeded, nested subset of the training split
drawn after the held-out split is cut, part of the params (label, fingerprint), validated."""

from __future__ import annotations

from functools import cache

import pytest
import torch

from bench.data import DATASETS, DataSplits
from bench.errors import BenchError
from bench.suite.schema import DatasetRef

NAMES = ["digits", "mnist5k"]


@cache
def load(name: str, **params: object) -> DataSplits:
    cls = DATASETS.get(name)
    return cls(cls.Params(**params)).load()


def rows(x: torch.Tensor) -> set[bytes]:
    """Each image as bytes, to compare sets of images regardless of order."""
    return {row.numpy().tobytes() for row in x.reshape(len(x), -1)}


@pytest.mark.parametrize("name", NAMES)
def test_a_seeded_subset_of_the_training_split(name: str) -> None:
    full, small = load(name), load(name, train_size=100)
    assert len(small.train) == 100 and small.train_labels is not None
    assert len(small.train_labels) == 100
    assert rows(small.train) <= rows(full.train)
    assert torch.equal(small.heldout, full.heldout)  # the held-out split never changes
    assert torch.equal(small.heldout_labels, full.heldout_labels)
    assert torch.equal(load(name, train_size=100).train, small.train)  # fixed by data_seed
    assert not torch.equal(load(name, train_size=100, data_seed=1).train, small.train)
    assert len(small.train_labels.unique()) == 10  # a random draw, not one class's block


def test_subsets_are_nested_and_labels_stay_with_their_images() -> None:
    small, large, full = (
        load("digits", train_size=50),
        load("digits", train_size=500),
        load("digits"),
    )
    assert torch.equal(large.train[:50], small.train)
    index = {
        row: label
        for row, label in zip(rows_list(full.train), full.train_labels.tolist(), strict=True)
    }
    assert [index[r] for r in rows_list(small.train)] == small.train_labels.tolist()


def rows_list(x: torch.Tensor) -> list[bytes]:
    return [row.numpy().tobytes() for row in x.reshape(len(x), -1)]


def test_the_whole_split_when_train_size_is_the_split_size() -> None:
    full = load("digits")
    everything = load("digits", train_size=len(full.train))
    assert rows(everything.train) == rows(full.train)


def test_after_an_excluded_class() -> None:
    splits = load("digits", exclude_class=3, train_size=200)
    assert len(splits.train) == 200 and 3 not in splits.train_labels.tolist()
    assert 3 in splits.heldout_labels.tolist()


@pytest.mark.parametrize("name", NAMES)
def test_the_declared_total_is_the_shipped_count(name: str) -> None:
    splits = load(name)
    assert len(splits.train) + len(splits.heldout) == DATASETS.get(name).Params.total


@pytest.mark.parametrize("name", NAMES)
def test_label_and_fingerprint_include_it(name: str) -> None:
    cls = DATASETS.get(name)
    default, sized = cls(), cls(cls.Params(train_size=100))
    assert DatasetRef(name=name, params={"train_size": 100}).label == f"{name}(train_size=100)"
    assert sized.fingerprint(name) != default.fingerprint(name)
    assert sized.fingerprint(name) != cls(cls.Params(train_size=101)).fingerprint(name)
    # Unset, it is left out of the dump: fingerprints and trial ids of older suites are kept.
    assert "train_size" not in default.params.model_dump()
    assert sized.params.model_dump()["train_size"] == 100
    assert cls.Params(**sized.params.model_dump()) == sized.params


@pytest.mark.parametrize("size", [0, -5])
def test_train_size_must_be_positive(size: int) -> None:
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        DATASETS.get("mnist5k").Params(train_size=size)


@pytest.mark.parametrize(("name", "available"), [("digits", 1438), ("mnist5k", 4000)])
def test_larger_than_the_training_split_is_refused_at_validation(name: str, available: int):
    params = DATASETS.get(name).Params
    assert params(train_size=available).train_size == available
    with pytest.raises(ValueError, match=f"holds {available} images"):
        params(train_size=available + 1)
    with pytest.raises(ValueError, match="holds 1000 images"):  # the split follows the fraction
        params(train_size=1001, heldout_fraction=1 - 1000 / params.total)


def test_larger_than_what_an_excluded_class_leaves_is_refused_at_load() -> None:
    cls = DATASETS.get("digits")
    dataset = cls(cls.Params(train_size=1400, exclude_class=3))
    with pytest.raises(BenchError, match=r"holds \d+ images .*class 3 dropped"):
        dataset.load()


def test_the_feature_space_is_fitted_on_the_whole_training_split() -> None:
    """A classifier fitted on 100 images would measure every training-set size in a worse space:
    the space comes from the dataset without train_size, the reference from the subset."""
    from bench.trial.evaluate import prepare_dataset

    small = prepare_dataset("digits", {"train_size": 100}, "digits(train_size=100)", 2000)
    full = prepare_dataset("digits", {}, "digits", 2000)
    assert len(small.splits.train) == 100 and len(small.reference.features) == 100
    state, other = small.feature_state, full.feature_state
    assert all(torch.equal(state["state_dict"][k], v) for k, v in other["state_dict"].items())
