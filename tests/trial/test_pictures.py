"""Trial pictures: nearest training neighbours and mode histograms."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.trial.evaluate import Evaluator, prepare_dataset
from bench.trial.pictures import displayable, mode_counts, nearest_training, trial_pictures

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def digits():
    return prepare_dataset("digits", {}, "digits", 400)


@pytest.fixture(scope="module")
def ring8():
    return prepare_dataset("ring8", {"n_samples": 2000}, "ring8", 400)


def measure(assets, samples, metrics):
    return Evaluator(assets, metrics, 0, torch.device("cpu")).measure(samples)


def test_copies_of_training_images_find_themselves_first(digits) -> None:
    copies = digits.splits.train[digits.reference_index[:20]]
    fake, neighbours = nearest_training(measure(digits, copies, ["fid"]), digits)
    assert neighbours.shape[:2] == (8, 4)
    np.testing.assert_array_equal(neighbours[:, 0], fake)


def test_image_trials_get_samples_and_neighbour_pictures(digits) -> None:
    pictures = trial_pictures(measure(digits, digits.splits.heldout[:100], ["fid"]), digits)
    assert {"samples.png", "neighbours.png"} <= set(pictures)
    assert all(png.startswith(PNG) for png in pictures.values())


def test_mixture_mode_counts_show_a_collapse(ring8) -> None:
    one_mode = ring8.splits.heldout[:1].repeat(300, 1)
    evaluation = measure(ring8, one_mode, ["modes"])
    fake, real = mode_counts(evaluation, ring8)
    assert (fake > 0).sum() == 1 and fake.sum() == 300
    assert (real > 0).sum() == 8
    assert trial_pictures(evaluation, ring8)["modes.png"].startswith(PNG)


def test_nan_samples_get_no_pictures(ring8) -> None:
    broken = torch.full((10, 2), float("nan"))
    assert trial_pictures(measure(ring8, broken, ["modes"]), ring8) == {}


def test_two_channel_images_are_shown_side_by_side() -> None:
    pair = np.stack([np.zeros((4, 5)), np.ones((4, 5))])[None]
    shown = displayable(pair)
    assert shown.shape == (1, 1, 4, 10)
    assert shown[0, 0, :, :5].max() == 0 and shown[0, 0, :, 5:].min() == 1


def test_autoencoder_trials_get_a_latent_traversal(digits) -> None:
    from bench.models import MODELS

    cls = MODELS.get("vae")
    model = cls(cls.HParams(hidden=16), digits.info)
    model.fit_sampler(digits.splits)
    evaluation = measure(digits, digits.splits.heldout[:50], ["fid"])
    pictures = trial_pictures(evaluation, digits, model, seed=0)
    assert pictures["traversal.png"].startswith(PNG)
    gan = MODELS.get("gan")
    no_decoder = gan(gan.HParams(hidden=16), digits.info)
    assert "traversal.png" not in trial_pictures(evaluation, digits, no_decoder, seed=0)
