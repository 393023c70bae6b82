"""The in-painting metric as a pure function of tensors: the masks it fixes, MSE and PSNR on the
missing pixels (PSNR against torchmetrics), class accuracy, known answers (an exact completion,
the mean-fill baseline), and the data and models it refuses with a reason."""

from __future__ import annotations

import pytest
import torch

from bench.data.base import DataInfo, EvalSpec
from bench.metrics import METRICS, EvalInputs, Features
from bench.metrics.inpainting import (
    MASKS,
    inpainting_scores,
    masks,
    missing_mse,
    psnr,
)
from bench.models import MODELS

INFO = DataInfo(shape=(1, 8, 8), kind="image", value_range=(0.0, 1.0), num_classes=3)
SPEC = EvalSpec(feature_space="raw")


def test_masks_hide_the_centre_square_the_left_half_and_half_the_pixels() -> None:
    known = masks((2, 8, 8), 5)
    assert known.shape == (len(MASKS), 5, 2, 8, 8) and known.dtype == torch.bool
    centre, left, random = known
    assert (~centre[0, 0]).nonzero().tolist() == [[r, c] for r in range(2, 6) for c in range(2, 6)]
    assert (~left[:, :, :, :4]).all() and left[:, :, :, 4:].all()
    assert ((~random).flatten(2).sum(-1) == 32).all()  # half of the 8 x 8 pixels, each channel
    assert torch.equal(random[:, 0], random[:, 1])  # the same pixels in every channel
    assert not torch.equal(random[0], random[1])  # a different draw per image
    assert torch.equal(known, masks((2, 8, 8), 5))  # fixed by the seed
    assert torch.equal(masks((1, 28, 28), 3)[0, 0, 0, 7:21, 7:21], torch.zeros(14, 14).bool())


def test_mse_counts_only_the_missing_pixels() -> None:
    x = torch.zeros(2, 1, 2, 2)
    known = torch.tensor([[True, True], [False, False]]).expand(2, 1, 2, 2)
    filled = x.clone()
    filled[:, :, 0] = 5.0  # wrong known pixels do not count (the metric scores the fill)
    filled[1, :, 1] = 0.5
    assert missing_mse(filled, x, known).tolist() == [0.0, 0.25]


def test_psnr_matches_torchmetrics_per_image() -> None:
    from torchmetrics.functional.image import peak_signal_noise_ratio

    gen = torch.Generator().manual_seed(0)
    x = torch.rand(6, 1, 8, 8, generator=gen) * 2 - 1
    filled = (x + 0.1 * torch.randn(x.shape, generator=gen)).clamp(-1, 1)
    known = masks((1, 8, 8), 6)[2]
    ours = psnr(missing_mse(filled, x, known), 2.0)
    theirs = [
        peak_signal_noise_ratio(filled[i][~known[i]], x[i][~known[i]], data_range=2.0)
        for i in range(6)
    ]
    torch.testing.assert_close(ours.float(), torch.stack(theirs), rtol=1e-5, atol=1e-4)
    scores = inpainting_scores(filled, x, known, 2.0)
    assert scores["psnr"] == pytest.approx(torch.stack(theirs).mean().item(), rel=1e-5)


def test_an_exact_completion_scores_100_db_and_perfect_accuracy() -> None:
    x = torch.rand(4, 1, 8, 8)
    labels = torch.tensor([0, 1, 2, 1])
    logits = torch.nn.functional.one_hot(labels, 3).float()
    scores = inpainting_scores(x.clone(), x, masks((1, 8, 8), 4)[0], 1.0, logits, labels)
    assert scores == {"mse": 0.0, "psnr": pytest.approx(100.0), "accuracy": 1.0}


def inputs(x: torch.Tensor, filled: dict[str, torch.Tensor], **extra: torch.Tensor) -> EvalInputs:
    empty = Features(torch.zeros(1, 1))
    known = masks(tuple(x.shape[1:]), len(x))
    probes = {"heldout": x, "inpaint_known": known, **filled, **extra}
    return EvalInputs(torch.zeros(1), empty, empty, SPEC, INFO, probes=probes)


def test_the_metric_reports_every_mask_for_the_model_and_both_baselines() -> None:
    x = torch.rand(10, 1, 8, 8)
    mean = torch.full_like(x, 0.5)
    stacked = {
        key: torch.stack([fill] * len(MASKS))
        for key, fill in {
            "inpainted": x,
            "inpainted_mean_fill": mean,
            "inpainted_nearest": 1 - x,
        }.items()
    }
    values = METRICS.get("inpainting").compute(inputs(x, stacked))
    assert len(values) == 3 * 3 * 2  # masks x sources x (mse, psnr): no labels, no accuracy
    assert values["center_psnr"] == pytest.approx(100.0)
    known = masks((1, 8, 8), 10)[2]
    assert values["random_mse_mean_fill"] == pytest.approx(
        missing_mse(mean, x, known).mean().item()
    )
    assert set(values) <= set(METRICS.get("inpainting").directions)


def test_accuracy_needs_labels_and_a_classifier_of_the_data_classes() -> None:
    x = torch.rand(4, 1, 8, 8)
    labels = torch.tensor([0, 1, 2, 0])
    right = torch.nn.functional.one_hot(labels, 3).float().expand(len(MASKS), 4, 3)
    wrong = torch.nn.functional.one_hot((labels + 1) % 3, 3).float().expand(len(MASKS), 4, 3)
    filled = {
        k: torch.stack([x] * len(MASKS))
        for k in ("inpainted", "inpainted_mean_fill", "inpainted_nearest")
    }
    logits = {
        "inpainted_logits": right,
        "inpainted_mean_fill_logits": wrong,
        "inpainted_nearest_logits": right,
    }
    metric = METRICS.get("inpainting")
    values = metric.compute(inputs(x, filled, labels=labels, **logits))
    assert values["left_accuracy"] == 1.0 and values["left_accuracy_mean_fill"] == 0.0
    other_space = {k: torch.zeros(len(MASKS), 4, 1008) for k in logits}  # e.g. Inception's
    values = metric.compute(inputs(x, filled, labels=labels, **other_space))
    assert not any("accuracy" in key for key in values)


def test_points_and_conditional_models_are_refused_with_the_reason() -> None:
    metric = METRICS.get("inpainting")
    points = DataInfo(shape=(2,), kind="points", value_range=None)
    assert "images, and this dataset holds points" in metric.applies(SPEC, points)
    assert metric.applies(SPEC, INFO) is None
    assert "conditional" in metric.applies_to_model(MODELS.get("cvae"))
    assert "conditional" in metric.applies_to_model(MODELS.get("cgan"))
    assert metric.applies_to_model(MODELS.get("gan")) is None
