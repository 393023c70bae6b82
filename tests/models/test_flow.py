"""The flows (bench/models/flow.py): the log-determinant they use is log|det J| of their map, the
inverse inverts it, training lowers the held-out NLL and samples follow the training data."""

from __future__ import annotations

import pytest
import torch

from bench.data.base import DataInfo
from bench.models import MODELS, Batch
from bench.models.flow import dequantize, quantize
from tests.models.builders import build, data, train

FLOWS = ("realnvp", "maf")
POINTS = DataInfo(shape=(3,), kind="points", value_range=None)
IMAGES = DataInfo(shape=(1, 2, 2), kind="image", value_range=(0.0, 1.0), levels=256)


def small(name: str, info: DataInfo):
    torch.manual_seed(0)
    cls = MODELS.get(name)
    model = cls(cls.HParams(transforms=2, hidden=8), info)
    with torch.no_grad():  # away from the identity, so the check is not trivial
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return model


@pytest.mark.parametrize("name", FLOWS)
@pytest.mark.parametrize("info", [POINTS, IMAGES], ids=["points", "images"])
def test_log_determinant_equals_autograd_jacobian(name: str, info: DataInfo) -> None:
    model = small(name, info)
    y = torch.rand(4, info.dim) * 0.9 + 0.05
    _, ladj = model.forward_and_logdet(y)
    for row in range(len(y)):
        jac = torch.autograd.functional.jacobian(
            lambda v: model.forward_and_logdet(v[None])[0][0], y[row]
        )
        assert ladj[row].item() == pytest.approx(torch.linalg.slogdet(jac)[1].item(), abs=1e-4)


@pytest.mark.parametrize("name", FLOWS)
@pytest.mark.parametrize("info", [POINTS, IMAGES], ids=["points", "images"])
def test_inverse_round_trip(name: str, info: DataInfo) -> None:
    model = small(name, info)
    y = torch.rand(5, info.dim) * 0.9 + 0.05
    z, _ = model.forward_and_logdet(y)
    assert torch.allclose(model.inverse(z), y, atol=1e-4)


def test_dequantization_round_trip_and_uniform_bits() -> None:
    x = torch.randint(0, 17, (6, 4)).float() / 16
    y = dequantize(x, 17, torch.Generator().manual_seed(0))
    assert ((y >= 0) & (y < 1)).all()
    assert torch.equal(quantize(y, 17), x)


@pytest.mark.slow
def test_training_lowers_heldout_nll() -> None:
    model = build("realnvp", "ring8", transforms=3, hidden=32)
    heldout = data("ring8")[1].heldout[:500]
    before = -model.log_likelihood(heldout, None).mean()
    train(model, "ring8", steps=150, size=128)
    after = -model.log_likelihood(heldout, None).mean()
    assert after < before - 0.5


@pytest.mark.slow
@pytest.mark.parametrize("name", FLOWS)
def test_samples_of_a_flow_fitted_to_a_gaussian_have_its_moments(name: str) -> None:
    info = DataInfo(shape=(2,), kind="points", value_range=None)
    mean, chol = torch.tensor([1.0, -2.0]), torch.tensor([[1.0, 0.0], [0.6, 0.5]])
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    cls = MODELS.get(name)
    model = cls(cls.HParams(transforms=2, hidden=16, lr=3e-3), info)
    for _ in range(400):
        model.train_step(Batch(mean + torch.randn(256, 2, generator=gen) @ chol.T))
    s = model.sample(20000, torch.Generator().manual_seed(1))
    assert torch.allclose(s.mean(0), mean, atol=0.1)
    assert torch.allclose(torch.cov(s.T), chol @ chol.T, atol=0.15)
