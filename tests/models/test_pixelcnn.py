"""The PixelCNN (bench/models/pixelcnn.py): the output for pixel i depends on no input pixel at or
after i (checked by gradients), its likelihood is a normalised discrete distribution, training
lowers the held-out NLL, and sampling fills every pixel on the level grid."""

from __future__ import annotations

import itertools

import pytest
import torch

from bench.data.base import DataInfo
from bench.models import MODELS
from tests.models.builders import build, data, train


def tiny(levels: int = 3):
    torch.manual_seed(0)
    cls = MODELS.get("pixelcnn")
    info = DataInfo(shape=(1, 4, 4), kind="image", value_range=(0.0, 1.0), levels=levels)
    return cls(cls.HParams(channels=4, layers=2), info)


def test_output_for_pixel_i_ignores_inputs_at_and_after_i() -> None:
    model = tiny()
    x = torch.rand(1, 1, 4, 4, requires_grad=True)
    logits = model.logits(x)
    for i in range(16):
        (grad,) = torch.autograd.grad(logits[0, :, i // 4, i % 4].sum(), x, retain_graph=True)
        flat = grad.flatten()
        assert (flat[i:] == 0).all(), f"pixel {i} sees inputs at or after it"
        if i > 0:
            assert flat[:i].abs().sum() > 0, f"pixel {i} sees nothing before it"


def test_probabilities_of_every_image_sum_to_one() -> None:
    model = tiny(levels=2)
    images = torch.tensor(list(itertools.product([0.0, 1.0], repeat=16))).reshape(-1, 1, 4, 4)
    log_p = model.log_likelihood(images, 2)
    assert torch.logsumexp(log_p, 0).exp().item() == pytest.approx(1.0, abs=1e-4)


def test_samples_lie_on_the_level_grid() -> None:
    model = tiny(levels=3)
    s = model.sample(5, torch.Generator().manual_seed(0))
    assert s.shape == (5, 1, 4, 4)
    assert torch.equal(s * 2, (s * 2).round())


@pytest.mark.slow
def test_training_lowers_heldout_nll() -> None:
    model = build("pixelcnn", "digits", channels=16, layers=2)
    heldout = data("digits")[1].heldout[:200]
    before = -model.log_likelihood(heldout, 17).mean()
    train(model, "digits", steps=60, size=64)
    assert -model.log_likelihood(heldout, 17).mean() < 0.8 * before
