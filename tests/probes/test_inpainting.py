"""In-painting through the evaluator: each mechanism once on a tiny model (chosen by ability, in
the stated order), known answers (a model that returns the original, one that fills with the
training mean, a held-out image that is also a training image), and the extractor's logits."""

from __future__ import annotations

import pytest
import torch

from bench.data import DATASETS, DataSplits
from bench.metrics.inpainting import MASKS
from bench.models import MODELS, GenerativeModel
from bench.probes.inpainting import (
    completer,
    inpaint_all,
    latent_completion,
    nearest_fill,
    own_inpaint,
    refine,
    task,
)
from bench.trial.evaluate import Evaluator, prepare_dataset


@pytest.fixture(scope="module")
def digits():
    return prepare_dataset("digits", {}, "digits", 200)


def tiny(name: str, **hparams: object) -> GenerativeModel:
    torch.manual_seed(0)
    cls = MODELS.get(name)
    return cls(cls.HParams(**hparams), DATASETS.get("digits")().info)


@pytest.mark.parametrize(
    ("name", "hparams", "mechanism"),
    [
        ("pca", {"latent_dim": 4}, own_inpaint),
        ("ddpm", {"timesteps": 10, "sample_steps": 3, "width": 4, "time_dim": 8}, own_inpaint),
        ("gan", {"hidden": 16, "layers": 1}, latent_completion),
        ("ae", {"hidden": 16, "layers": 1}, refine),
        ("vae", {"hidden": 16, "layers": 1}, refine),
    ],
)
def test_each_mechanism_completes_the_missing_pixels_only(digits, name, hparams, mechanism):
    model = tiny(name, **hparams)
    assert completer(model) is mechanism
    x, known = task(digits.splits, 3)
    filled = inpaint_all(model, x, known, digits.splits)
    assert filled.shape == (len(MASKS), 3, 1, 8, 8) and torch.isfinite(filled).all()
    assert torch.equal(filled[known], x.expand_as(filled)[known])
    assert not torch.equal(filled, x.expand_as(filled))
    assert torch.equal(filled, inpaint_all(model, x, known, digits.splits))  # seeded
    assert model.training  # the mode is restored


class Oracle(torch.nn.Module):
    """In-paints by returning the original image (Inpaints): the best answer there is."""

    def __init__(self, fill: torch.Tensor | None = None) -> None:
        super().__init__()
        self.fill = fill
        self.register_buffer("anchor", torch.zeros(()))

    @property
    def device(self) -> torch.device:
        return self.anchor.device

    def inpaint(self, x, known, generator=None):
        return x if self.fill is None else torch.where(known, x, self.fill)

    def sample(self, n, generator=None):  # pragma: no cover - the evaluator is given samples
        raise NotImplementedError


def measured(assets, model) -> dict[str, float]:
    evaluator = Evaluator(assets, ["inpainting"], 0, torch.device("cpu"))
    result = evaluator.measure(assets.splits.heldout[:50], model=model)
    assert result.not_computable == {}
    return result.values


def test_returning_the_original_scores_100_db_and_the_classifiers_own_accuracy(digits) -> None:
    values = measured(digits, Oracle())
    x = digits.splits.heldout[:500]
    logits = Evaluator(digits, [], 0, torch.device("cpu")).extract(x).logits
    own = (logits.argmax(1) == digits.splits.heldout_labels[:500]).double().mean().item()
    assert own > 0.9
    for mask in MASKS:
        assert values[f"{mask}_mse"] == 0.0
        assert values[f"{mask}_psnr"] == pytest.approx(100.0)
        assert values[f"{mask}_accuracy"] == pytest.approx(own)
        assert values[f"{mask}_psnr"] > values[f"{mask}_psnr_nearest"]
        assert values[f"{mask}_psnr_nearest"] > values[f"{mask}_psnr_mean_fill"]


def test_filling_with_the_training_mean_equals_the_mean_fill_baseline(digits) -> None:
    values = measured(digits, Oracle(fill=digits.splits.train.mean(0)))
    for mask in MASKS:
        for score in ("mse", "psnr", "accuracy"):
            key = f"{mask}_{score}"
            assert values[key] == pytest.approx(values[f"{key}_mean_fill"], rel=1e-6, abs=1e-9)


def test_the_nearest_training_image_is_found_on_the_observed_pixels() -> None:
    train = torch.rand(30, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    x = train[[3, 17]]
    known = torch.zeros(2, 1, 4, 4, dtype=torch.bool)
    known[:, :, :2] = True
    assert torch.equal(nearest_fill(x, known, train), x)
    other = x.clone()
    other[:, :, 2:] = 0.5  # different where missing: still found by what is observed
    assert torch.equal(nearest_fill(other, known, train), x)


def test_refinement_starts_from_seeded_uniform_noise_in_the_data_range() -> None:
    class Copy(torch.nn.Module):
        device = torch.device("cpu")

        def reconstruct(self, x, y=None):
            return x

    x = torch.zeros(5, 1, 4, 4)
    known = torch.rand(5, 1, 4, 4, generator=torch.Generator().manual_seed(1)) < 0.5
    first = refine(Copy(), x, known, torch.Generator().manual_seed(0), (-1.0, 3.0))
    again = refine(Copy(), x, known, torch.Generator().manual_seed(0), (-1.0, 3.0))
    assert torch.equal(first, again) and torch.equal(first[known], x[known])
    missing = first[~known]
    assert missing.min() >= -1.0 and missing.max() <= 3.0 and missing.std() > 0.5


def test_the_baselines_need_no_model(digits) -> None:
    from bench.probes import run_probes

    splits = DataSplits(digits.splits.train, digits.splits.heldout[:20])
    tensors, failed = run_probes(
        ["inpainting_baselines"], None, splits, digits.spec, Evaluator(digits, [], 0, "cpu").extract
    )
    assert failed == {}
    assert tensors["inpaint_known"].shape == (len(MASKS), 20, 1, 8, 8)
    assert tensors["inpainted_nearest_logits"].shape == (len(MASKS), 20, 10)
