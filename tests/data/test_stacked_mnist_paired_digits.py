"""Stacked MNIST and the paired-domain digits: shapes, labels, splits, their feature spaces and
the translation metric. The feature-space checks fit a digit classifier for 2 epochs instead of
10 (to keep the file quick) in a cache folder of their own, so no other test ever reads these
weaker weights; their accuracy thresholds are set for it."""

from __future__ import annotations

import math
import typing
from functools import cache

import pytest
import torch

from bench.data import DATASETS
from bench.data.digits import Mnist5k
from bench.data.paired import TRANSFORMS, PairedParams, domain_a, domain_b, invert, rotate90
from bench.data.stacked import StackedMnist, triple_index
from bench.errors import BenchError
from bench.metrics import METRICS, MetricInputError
from bench.metrics.features import (
    ClassifierSpace,
    PairedTargetSpace,
    StackedClassifierSpace,
    classifier_weights_path,
    joint_log_probs,
)
from bench.metrics.translation import translation_error

SMALL = 600  # stacked images per test dataset


def rows(x: torch.Tensor) -> set[bytes]:
    """Each image as bytes: set membership of exact images."""
    return {r.numpy().tobytes() for r in x.reshape(len(x), -1)}


@cache
def mnist(data_seed: int = 0):
    return Mnist5k(Mnist5k.Params(data_seed=data_seed)).load()


@cache
def stacked(data_seed: int = 0):
    dataset = StackedMnist(StackedMnist.Params(n_samples=SMALL, data_seed=data_seed))
    return dataset, dataset.load()


@cache
def pairs(transform: str = "invert"):
    dataset = DATASETS.get("mnist_pairs")(PairedParams(transform=transform))
    return dataset, dataset.load()


# --- stacked_mnist ------------------------------------------------------------------------------


def test_stacked_shapes_range_and_split_sizes():
    dataset, splits = stacked()
    assert dataset.info.shape == (3, 28, 28) and dataset.info.kind == "image"
    assert dataset.info.num_classes == 1000 and dataset.eval_spec.num_modes == 1000
    assert dataset.eval_spec.feature_space == "stacked_classifier"
    assert splits.train.shape == (SMALL - 120, 3, 28, 28) and splits.heldout.shape[0] == 120
    assert splits.train.dtype == torch.float32
    assert splits.train.min() >= 0.0 and splits.train.max() == 1.0


def test_stacked_labels_are_the_triples_of_the_channel_digits():
    _, splits = stacked()
    base = mnist()
    label_of = {
        r.numpy().tobytes(): int(y)
        for r, y in zip(base.train.reshape(len(base.train), -1), base.train_labels, strict=True)
    }
    for image, label in zip(splits.train[:50], splits.train_labels[:50], strict=True):
        digits = [label_of[channel.reshape(-1).numpy().tobytes()] for channel in image]
        assert label == 100 * digits[0] + 10 * digits[1] + digits[2]
    assert splits.train_labels.min() >= 0 and splits.train_labels.max() < 1000
    # 480 draws over 1,000 near-uniform triples: most labels distinct
    assert len(set(splits.train_labels.tolist())) > 350


def test_stacked_splits_use_disjoint_digit_images():
    _, splits = stacked()
    base = mnist()
    train_digits, held_digits = (
        rows(splits.train.reshape(-1, 28, 28)),
        rows(splits.heldout.reshape(-1, 28, 28)),
    )
    assert train_digits <= rows(base.train.squeeze(1))
    assert held_digits <= rows(base.heldout.squeeze(1))
    assert not train_digits & held_digits


def test_stacked_is_fixed_by_the_data_seed():
    assert torch.equal(stacked(0)[1].train, StackedMnist(stacked(0)[0].params).load().train)
    assert not torch.equal(stacked(0)[1].train, stacked(1)[1].train)


def test_triple_index_puts_channel_zero_in_the_hundreds():
    assert triple_index(torch.tensor([[1, 2, 3], [9, 0, 7]])).tolist() == [123, 907]


# --- mnist_pairs --------------------------------------------------------------------------------


@pytest.mark.parametrize("transform", sorted(TRANSFORMS))
def test_pairs_hold_each_digit_and_its_exact_transform(transform):
    dataset, splits = pairs(transform)
    info = dataset.info
    assert info.shape == (2, 28, 28) and info.pairing == transform and info.num_classes == 10
    assert dataset.eval_spec.feature_space == "paired_target"
    base = mnist()
    for got, digits in ((splits.train, base.train), (splits.heldout, base.heldout)):
        assert torch.equal(domain_a(got), digits)  # domain A is mnist5k, split as mnist5k is
        assert torch.equal(domain_b(got), TRANSFORMS[transform](digits))
    assert torch.equal(splits.train_labels, base.train_labels)
    assert splits.train.min() >= 0.0 and splits.train.max() <= 1.0


def test_transforms_are_the_documented_maps():
    x = torch.arange(4.0).reshape(1, 1, 2, 2) / 3
    assert torch.equal(invert(x), 1 - x)
    assert rotate90(x)[0, 0].tolist() == [
        [x[0, 0, 0, 1].item(), x[0, 0, 1, 1].item()],
        [x[0, 0, 0, 0].item(), x[0, 0, 1, 0].item()],
    ]
    assert set(typing.get_args(PairedParams.model_fields["transform"].annotation)) == set(
        TRANSFORMS
    )


def test_unknown_transform_is_rejected():
    with pytest.raises(ValueError, match="transform"):
        PairedParams(transform="mirror")


# --- feature spaces -----------------------------------------------------------------------------


class QuickDigits(ClassifierSpace):
    epochs = 2


@pytest.fixture(scope="module")
def own_cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BENCH_CACHE_DIR", str(tmp_path_factory.mktemp("quick-classifiers")))
        yield


@pytest.fixture(scope="module")
def stacked_space(own_cache):
    space = StackedClassifierSpace(QuickDigits())
    dataset, splits = stacked()
    state = space.fit(dataset.fingerprint("stacked_mnist"), splits, dataset.info)
    return space, state


def test_stacked_space_reuses_the_cached_mnist5k_classifier(stacked_space):
    _, state = stacked_space
    digits = Mnist5k()
    assert classifier_weights_path(digits.fingerprint("mnist5k")).exists()
    again = QuickDigits().fit(digits.fingerprint("mnist5k"), mnist(), digits.info)
    assert all(torch.equal(state["state_dict"][k], v) for k, v in again["state_dict"].items())


def test_stacked_space_modes_are_the_digit_triples(stacked_space):
    space, state = stacked_space
    dataset, splits = stacked()
    feats = space.extractor(state, dataset.info, "cpu")(splits.heldout)
    n = len(splits.heldout)
    assert feats.features.shape == (n, 3 * 128) and feats.logits.shape == (n, 1000)
    # logits are log-probabilities of the 1,000 triples
    assert torch.allclose(feats.logits.logsumexp(1), torch.zeros(n, dtype=torch.float64))
    assert torch.equal(feats.modes, feats.logits.argmax(1))
    # held-out digits: with per-digit accuracy p, about p³ of the triples are right
    assert (feats.modes == splits.heldout_labels).double().mean() > 0.7


def test_stacked_space_features_are_per_channel(stacked_space):
    space, state = stacked_space
    dataset, splits = stacked()
    extract = space.extractor(state, dataset.info, "cpu")
    x = splits.heldout[:8]
    swapped = x[:, [2, 1, 0]]
    a, b = extract(x), extract(swapped)
    assert torch.allclose(a.features[:, :128], b.features[:, 256:])
    assert torch.equal(a.modes // 100, b.modes % 10)


def test_joint_log_probs_orders_triples_like_the_labels():
    logp = torch.full((1, 3, 10), -1e9)
    logp[0, 0, 4], logp[0, 1, 0], logp[0, 2, 7] = 0.0, 0.0, 0.0
    joint = joint_log_probs(logp)
    assert joint.shape == (1, 1000) and joint.argmax().item() == 407


def test_stacked_space_rejects_other_image_sizes(own_cache):
    digits = DATASETS.get("digits")()
    with pytest.raises(BenchError, match="28×28"):
        StackedClassifierSpace(QuickDigits()).fit("digits-x", digits.load(), digits.info)


def test_paired_target_space_reads_domain_b_only(own_cache):
    dataset, splits = pairs("invert")
    space = PairedTargetSpace(QuickDigits())
    state = space.fit(dataset.fingerprint("mnist_pairs"), splits, dataset.info)
    assert state["arch"]["channels"] == 1
    extract = space.extractor(state, dataset.info, "cpu")
    x = splits.heldout[:300]
    feats = extract(x)
    scrambled = x.clone()
    scrambled[:, 0] = torch.rand_like(scrambled[:, 0])
    assert torch.equal(feats.features, extract(scrambled).features)
    # trained on inverted digits, it reads them
    assert (feats.modes == splits.heldout_labels[:300]).double().mean() > 0.85
    with pytest.raises(BenchError, match="paired"):
        space.fit("mnist5k-x", mnist(), Mnist5k().info)


# --- translation metric -------------------------------------------------------------------------


@pytest.mark.parametrize("transform", sorted(TRANSFORMS))
def test_translation_error_known_answers(transform):
    _, splits = pairs(transform)
    x = splits.heldout[:200]
    assert translation_error(x, transform) == {"translation_l1": 0.0, "translation_mse": 0.0}
    a = domain_a(x)
    copy = torch.cat([a, a], dim=1)  # a translator that returns its input
    gap = (a - TRANSFORMS[transform](a)).double()
    got = translation_error(copy, transform)
    assert got["translation_l1"] == pytest.approx(gap.abs().mean().item(), rel=1e-12)
    assert got["translation_mse"] == pytest.approx(gap.pow(2).mean().item(), rel=1e-12)
    assert got["translation_l1"] > 0.1


def test_translation_error_of_inverting_a_blank_image_is_one():
    blank = torch.zeros(3, 2, 4, 4)
    assert translation_error(blank, "invert") == {"translation_l1": 1.0, "translation_mse": 1.0}


def test_translation_metric_applies_to_paired_data_only():
    metric = METRICS.get("translation")
    paired = pairs("invert")[0]
    assert metric.applies(paired.eval_spec, paired.info) is None
    digits = Mnist5k()
    assert "paired" in metric.applies(digits.eval_spec, digits.info)


@pytest.mark.parametrize(
    ("x", "problem"),
    [
        (torch.zeros(4, 1, 28, 28), "(N, 2, H, W)"),
        (torch.zeros(0, 2, 28, 28), "(N, 2, H, W)"),
        (torch.full((2, 2, 4, 4), math.nan), "NaN"),
    ],
)
def test_translation_error_rejects_bad_samples(x, problem):
    with pytest.raises(MetricInputError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        translation_error(x, "invert")
