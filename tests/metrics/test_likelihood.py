"""The likelihood metric's known answers: a uniform density on 8-bit images is 8 bits/dim, and a
Gaussian fitted to Gaussian data scores its closed-form held-out NLL; a GAN is refused."""

from __future__ import annotations

import math

import pytest
import torch

from bench.data.base import DataInfo, DataSplits, EvalSpec
from bench.metrics import METRICS
from bench.metrics.base import EvalInputs, Features
from bench.metrics.likelihood import nats_and_bits
from bench.models import MODELS
from bench.models.flow import dequantize
from bench.probes import PROBES, unmeasurable


class UniformPixels:
    """A uniform density on [0, 1)^D, measured on dequantized pixels like every flow."""

    device = torch.device("cpu")

    def __init__(self, info: DataInfo) -> None:
        self.info = info  # the probe reads the level count from the model's DataInfo

    def log_likelihood(self, x, levels, generator=None):
        y = dequantize(x.flatten(1), levels, generator)
        return torch.zeros(len(y)) - y.shape[1] * math.log(levels)

    def likelihood_kind(self) -> str:
        return "exact"


class FittedGaussian:
    """N(mean, cov) fitted to training points: an exact density with a closed-form NLL."""

    device = torch.device("cpu")

    def __init__(self, x: torch.Tensor) -> None:
        self.info = DataInfo(shape=(x.shape[1],), kind="points", value_range=None)
        self.dist = torch.distributions.MultivariateNormal(x.mean(0), torch.cov(x.T))

    def log_likelihood(self, x, levels, generator=None):
        return self.dist.log_prob(x)

    def likelihood_kind(self) -> str:
        return "exact"


def measure(model, splits: DataSplits, spec: EvalSpec, info: DataInfo) -> dict[str, float]:
    probes = PROBES.get("log_likelihoods").run(model, splits, spec)
    empty = Features(torch.zeros(1, 1))
    inputs = EvalInputs(splits.heldout, empty, empty, spec, info, probes=probes)
    return METRICS.get("likelihood").compute(inputs)


def test_uniform_density_on_8_bit_images_is_8_bits_per_dim() -> None:
    info = DataInfo(shape=(1, 4, 4), kind="image", value_range=(0.0, 1.0), levels=256)
    x = torch.randint(0, 256, (50, 1, 4, 4)).float() / 255
    spec = EvalSpec(feature_space="raw")
    values = measure(UniformPixels(info), DataSplits(x, x), spec, info)
    assert values["bits_per_dim"] == pytest.approx(8.0)
    assert values["nll_nats"] == pytest.approx(16 * 8 * math.log(2))


def test_fitted_gaussian_gives_the_closed_form_nll() -> None:
    gen = torch.Generator().manual_seed(0)
    cov = torch.tensor([[2.0, 0.5], [0.5, 1.0]])
    chol = torch.linalg.cholesky(cov)
    train, held = (torch.randn(20000, 2, generator=gen) @ chol.T for _ in range(2))
    info = DataInfo(shape=(2,), kind="points", value_range=None)
    values = measure(FittedGaussian(train), DataSplits(train, held), EvalSpec("raw"), info)
    # the first LIKELIHOOD_IMAGES held-out points: the entropy 0.5 log det(2 pi e cov) +- noise
    entropy = 0.5 * math.log((2 * math.pi * math.e) ** 2 * torch.linalg.det(cov).item())
    assert values["nll_nats"] == pytest.approx(entropy, abs=0.1)
    assert values["bits_per_dim"] == pytest.approx(values["nll_nats"] / (2 * math.log(2)))


def test_bits_per_dim_converts_nats() -> None:
    values = nats_and_bits(torch.tensor([-10.0, -12.0]), dim=4)
    assert values == {"nll_nats": 11.0, "bits_per_dim": pytest.approx(11 / (4 * math.log(2)))}


def test_models_without_a_density_are_refused() -> None:
    metric = METRICS.get("likelihood")
    assert "log_likelihood" in unmeasurable(metric, MODELS.get("dcgan"))
    assert "log_likelihood" in unmeasurable(metric, MODELS.get("ae"))
    assert unmeasurable(metric, MODELS.get("realnvp")) is None


def test_images_without_a_level_count_are_refused() -> None:
    info = DataInfo(shape=(1, 4, 4), kind="image", value_range=(0.0, 1.0))
    assert "DataInfo.levels" in METRICS.get("likelihood").applies(EvalSpec("raw"), info)


def inputs_with(probes: dict[str, torch.Tensor], spec: EvalSpec) -> EvalInputs:
    info = DataInfo(shape=(1, 2, 2), kind="image", value_range=(0.0, 1.0), levels=256)
    empty = Features(torch.zeros(1, 1))
    return EvalInputs(torch.zeros(1, 1, 2, 2), empty, empty, spec, info, probes=probes)


def test_ood_auroc_is_one_when_in_distribution_is_likelier_and_zero_for_the_paradox() -> None:
    spec = EvalSpec("raw")
    log_p = torch.tensor([-1.0, -2.0, -3.0])
    lower, higher = log_p - 10, log_p + 10
    ood = METRICS.get("ood")
    values = ood.compute(
        inputs_with(
            {"log_likelihood": log_p, "log_likelihood_inverted": lower}
            | {"log_likelihood_shuffled": higher, "log_likelihood_shapes": log_p},
            spec,
        )
    )
    assert values == {
        "ood_auroc_inverted": 1.0,
        "ood_auroc_shuffled": 0.0,
        "ood_auroc_shapes": 0.5,  # ties: chance
    }
    assert ood.applies(EvalSpec("raw"), DataInfo((2,), "points", None)) is not None


def test_ood_copies_keep_shape_grid_and_histogram() -> None:
    from bench.metrics.likelihood import inverted, shuffled

    info = DataInfo((1, 8, 8), "image", (0.0, 1.0), levels=17)
    x = torch.randint(0, 17, (3, 1, 8, 8)).float() / 16
    assert torch.equal(inverted(inverted(x, info), info), x)
    assert torch.equal(shuffled(x, info).flatten(1).sort(1).values, x.flatten(1).sort(1).values)
    assert torch.equal(shuffled(x, info), shuffled(x, info)) and not torch.equal(
        shuffled(x, info), x
    )


@pytest.mark.parametrize(("shape", "levels"), [((1, 8, 8), 17), ((1, 28, 28), 256), ((3, 8, 8), 2)])
def test_ood_shapes_are_another_dataset_of_the_same_shape_and_grey_levels(shape, levels) -> None:
    from bench.metrics.likelihood import shapes

    info = DataInfo(shape, "image", (0.0, 1.0), levels=levels)
    x = torch.rand(50, *shape)
    drawn = shapes(x, info)
    assert drawn.shape == x.shape and torch.equal(drawn, shapes(x, info))  # seeded
    grid = drawn * (levels - 1)
    assert torch.equal(grid, grid.round()) and drawn.min() == 0 and drawn.max() == 1
    assert torch.equal(drawn[:, :1].expand_as(drawn), drawn)  # grey in every channel
    assert len({tuple(image.flatten().tolist()) for image in drawn}) > 40  # distinct shapes


def test_likelihood_anomaly_scores_unlikely_images_as_anomalous() -> None:
    spec = EvalSpec("raw", anomaly_class=3)
    log_p = torch.tensor([-1.0, -9.0, -2.0, -8.0])
    labels = torch.tensor([0, 3, 1, 3])
    metric = METRICS.get("likelihood_anomaly")
    values = metric.compute(inputs_with({"log_likelihood": log_p, "labels": labels}, spec))
    assert values == {"anomaly_auroc_likelihood": 1.0}
