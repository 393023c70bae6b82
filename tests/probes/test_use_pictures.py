"""The pictures of the uses: interpolation.png (rows of points along latent paths) and
inpainting.png (masked input, completion, original per mask), for the models and data they fit
and for no others."""

from __future__ import annotations

import pytest
import torch

from bench.data import DATASETS
from bench.models import MODELS, GenerativeModel
from bench.probes.interpolation import interpolation_grid
from bench.trial.evaluate import prepare_dataset
from bench.trial.pictures import (
    INPAINT_ROWS,
    INTERPOLATION_ROWS,
    INTERPOLATION_STEPS,
    inpainting_rows,
    model_pictures,
)

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def digits():
    return prepare_dataset("digits", {}, "digits", 200)


def tiny(name: str, dataset: str = "digits", **hparams: object) -> GenerativeModel:
    torch.manual_seed(0)
    cls = MODELS.get(name)
    return cls(cls.HParams(**hparams), DATASETS.get(dataset)().info)


@pytest.mark.parametrize(
    ("name", "hparams"),
    [
        ("gan", {"hidden": 16}),
        ("ae", {"hidden": 16}),
        ("ddpm", {"timesteps": 10, "sample_steps": 3, "width": 4, "time_dim": 8}),
    ],
)
def test_models_with_a_latent_get_both_pictures(digits, name, hparams) -> None:
    model = tiny(name, **hparams)
    model.fit_sampler(digits.splits)
    pictures = model_pictures(model, digits, seed=0)
    assert {"interpolation.png", "inpainting.png"} <= set(pictures)
    assert all(png.startswith(PNG) for png in pictures.values())


def test_the_interpolation_rows_run_from_one_latent_to_the_other(digits) -> None:
    model = tiny("gan", hidden=16)
    images, how = interpolation_grid(
        model, INTERPOLATION_ROWS, INTERPOLATION_STEPS, torch.Generator().manual_seed(0)
    )
    assert "slerp" in how
    assert images.shape == (INTERPOLATION_ROWS * INTERPOLATION_STEPS, 1, 8, 8)
    z = model.latent(2 * INTERPOLATION_ROWS, torch.Generator().manual_seed(0))
    with torch.no_grad():
        model.eval()
        ends = model.generate(z)
    rows = images.reshape(INTERPOLATION_ROWS, INTERPOLATION_STEPS, 1, 8, 8)
    torch.testing.assert_close(rows[:, 0], ends[:INTERPOLATION_ROWS])
    torch.testing.assert_close(rows[:, -1], ends[INTERPOLATION_ROWS:])


def test_the_inpainting_rows_show_masked_completed_and_original(digits) -> None:
    rows = inpainting_rows(tiny("pca", latent_dim=4), digits)
    x = digits.splits.heldout[:INPAINT_ROWS].numpy()
    assert rows.shape == (INPAINT_ROWS * 3 * 3, 1, 8, 8)
    tiles = rows.reshape(INPAINT_ROWS, 3, 3, 1, 8, 8)  # image, mask, (masked, completed, original)
    assert (tiles[:, :, 2] == x[:, None]).all()
    assert (tiles[:, 0, 0, :, 3, 3] == 0.5).all()  # the centre is missing: mid-grey


def test_points_conditional_models_and_models_without_a_latent_get_neither() -> None:
    ring = prepare_dataset("ring8", {"n_samples": 600}, "ring8", 100)
    pictures = model_pictures(tiny("gan", "ring8", hidden=8), ring, seed=0)
    assert not {"interpolation.png", "inpainting.png"} & set(pictures)
    pairs = prepare_dataset("digits", {}, "digits", 100)
    cgan = model_pictures(tiny("cgan", hidden=8), pairs, seed=0)
    assert not {"interpolation.png", "inpainting.png"} & set(cgan)
