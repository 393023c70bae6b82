"""Outlier detection for GANs: the discriminator's score and the latent-optimisation residual,
with AUROC 1.0 where they separate the left-out class perfectly; autoencoders keep their score
and report no residual."""

from __future__ import annotations

import pytest
import torch

from bench.data import DATASETS, DataSplits, EvalSpec
from bench.data.base import DataInfo
from bench.metrics import METRICS, EvalInputs, Features
from bench.models import MODELS
from bench.probes import run_probes

SPEC = EvalSpec(feature_space="raw", anomaly_class=1)
INFO = DataInfo(shape=(1, 4, 4), kind="image", value_range=(0.0, 1.0), num_classes=2)


def splits() -> DataSplits:
    """Class 1 is bright (anomalous), class 0 dark; the classes interleave."""
    labels = torch.arange(40) % 2
    gen = torch.Generator().manual_seed(0)
    x = 0.2 * torch.rand(40, 1, 4, 4, generator=gen) + 0.7 * labels.reshape(-1, 1, 1, 1)
    return DataSplits(train=x[labels == 0], heldout=x, heldout_labels=labels)


class DarkGan(torch.nn.Module):
    """A GAN-like model (Discriminates, Generates) that knows only dark images: D scores
    brightness as fake, and the generator makes only dark images."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    @property
    def device(self) -> torch.device:
        return self.w.device

    def discriminate(self, x: torch.Tensor) -> torch.Tensor:
        return -x.flatten(1).mean(1)

    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, 2, generator=generator)

    def generate(self, z: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return 0.1 * torch.sigmoid(z[:, :1] + self.w).reshape(-1, 1, 1, 1).expand(-1, 1, 4, 4)


def anomaly(probes: dict[str, torch.Tensor]) -> dict[str, float]:
    empty = Features(torch.zeros(1, 1))
    inputs = EvalInputs(torch.zeros(1), empty, empty, SPEC, INFO, probes=probes)
    return METRICS.get("anomaly").compute(inputs)


def test_a_discriminator_and_a_generator_that_separate_the_class_score_auroc_one() -> None:
    tensors, failed = run_probes(["anomaly_scores", "labels"], DarkGan(), splits(), SPEC)
    assert failed == {}
    assert anomaly(tensors) == {"anomaly_auroc": 1.0, "anomaly_auroc_residual": 1.0}


def test_an_autoencoder_keeps_its_reconstruction_error_and_gets_no_residual() -> None:
    info = DATASETS.get("digits")().info
    ae = MODELS.get("ae")(MODELS.get("ae").HParams(hidden=8, layers=1), info)
    data = DATASETS.get("digits")(DATASETS.get("digits").Params(exclude_class=3)).load()
    data = DataSplits(data.train, data.heldout[:60], None, data.heldout_labels[:60])
    tensors, _ = run_probes(["anomaly_scores"], ae, data, SPEC)
    assert set(tensors) == {"anomaly_scores"}
    expected = (ae.reconstruct(data.heldout) - data.heldout).pow(2).flatten(1).mean(1)
    torch.testing.assert_close(tensors["anomaly_scores"], expected)


@pytest.mark.parametrize("name", ["gan", "wgan", "pacgan", "lsgan"])
def test_every_unconditional_gan_gets_both_scores(name: str) -> None:
    cls = MODELS.get(name)
    hparams = {"hidden": 8, "layers": 1}
    if name == "pacgan":
        hparams |= {"packing": 2, "batch_size": 64}
    torch.manual_seed(0)
    model = cls(cls.HParams(**hparams), INFO)
    tensors, failed = run_probes(["anomaly_scores", "labels"], model, splits(), SPEC)
    assert failed == {}
    assert tensors["anomaly_scores"].shape == tensors["anomaly_residuals"].shape == (40,)
    assert set(anomaly(tensors)) == {"anomaly_auroc", "anomaly_auroc_residual"}
    assert "conditional" in METRICS.get("anomaly").applies_to_model(MODELS.get("cgan"))
