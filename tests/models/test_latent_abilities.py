"""The abilities the uses of generative models need (in-painting, interpolation, outlier
detection): which models have them, that the adapter methods agree with what they wrap, PCA's
closed-form in-painting, and latent optimisation's known answer on a linear generator."""

from __future__ import annotations

import pytest
import torch

from bench.data.base import DataInfo
from bench.metrics.autoencoding import PRIOR_WEIGHT
from bench.models import MODELS, Batch, GenerativeModel
from bench.models.abilities import DecodesNoise, Discriminates, Generates, Inpaints
from bench.probes.latents import fit_latents

DIGITS = DataInfo(shape=(1, 8, 8), kind="image", value_range=(0.0, 1.0), num_classes=10)
MNIST = DataInfo(shape=(1, 28, 28), kind="image", value_range=(0.0, 1.0), num_classes=10)


@pytest.mark.parametrize("name", MODELS.names())
def test_every_model_has_exactly_the_abilities_of_its_kind(name: str) -> None:
    cls = MODELS.get(name)
    gan = cls.family == "gan" and name != "cyclegan"
    assert issubclass(cls, Generates) == gan
    assert issubclass(cls, Discriminates) == gan
    assert issubclass(cls, Inpaints) == (name in {"pca", "ddpm"})
    assert issubclass(cls, DecodesNoise) == (name == "ddpm")


def build(name: str, info: DataInfo, **hparams: object) -> GenerativeModel:
    torch.manual_seed(0)
    cls = MODELS.get(name)
    return cls(cls.HParams(**hparams), info)


@pytest.mark.parametrize(
    ("name", "info", "hparams"),
    [
        ("gan", DIGITS, {"hidden": 16}),
        ("dcgan", DIGITS, {"hidden": 8}),
        ("stylegan", MNIST, {"channels": 8, "w_dim": 8}),
        ("progan", MNIST, {"channels": 8}),
    ],
)
def test_generate_is_the_sampler_differentiable_in_z(name, info, hparams) -> None:
    m = build(name, info, **hparams)
    m.eval()
    with torch.no_grad():
        sampled = m.sample(3, torch.Generator().manual_seed(5))
        stream = torch.Generator().manual_seed(5)  # stylegan's noise follows z in its stream
        z = m.latent(3, stream)
        torch.testing.assert_close(m.generate(z, stream), sampled)
    z.requires_grad_(True)
    out = m.generate(z, torch.Generator().manual_seed(0))
    assert out.shape == (3, *info.shape)
    out.sum().backward()
    assert z.grad is not None and z.grad.abs().sum() > 0


def test_discriminate_scores_each_image_without_gradients() -> None:
    x = torch.rand(4, 1, 8, 8)
    gan = build("gan", DIGITS, hidden=16)
    scores = gan.discriminate(x)
    assert scores.shape == (4,) and not scores.requires_grad
    torch.testing.assert_close(scores, gan.discriminator(x).detach())
    pac = build("pacgan", DIGITS, hidden=16, packing=2, batch_size=64)
    scores = pac.discriminate(x)
    assert scores.shape == (4,)
    torch.testing.assert_close(scores[1:2], pac.discriminate(x[1:2]))  # image by image
    for name, hparams in [("stylegan", {"channels": 8}), ("progan", {"channels": 8})]:
        assert build(name, MNIST, **hparams).discriminate(torch.rand(3, 1, 28, 28)).shape == (3,)


def fitted_pca(latent_dim: int = 3) -> GenerativeModel:
    m = build("pca", DIGITS, latent_dim=latent_dim)
    gen = torch.Generator().manual_seed(0)
    for _ in range(3):
        m.train_step(Batch(0.2 + 0.6 * torch.rand(200, 1, 8, 8, generator=gen)))
    return m


def test_pca_inpainting_recovers_a_point_of_its_subspace_exactly() -> None:
    m = fitted_pca()
    z = 0.3 * torch.randn(6, 3, generator=torch.Generator().manual_seed(1))
    x = m.decode(z)  # in the subspace (and inside the value range)
    known = torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(2)) < 0.5
    filled = m.inpaint(x, known)
    torch.testing.assert_close(filled, x, atol=1e-5, rtol=0)
    assert torch.equal(filled[known], x[known])


def test_pca_inpainting_with_fewer_observed_pixels_than_components_stays_finite() -> None:
    m = fitted_pca(latent_dim=5)
    x = torch.rand(2, 1, 8, 8)
    known = torch.zeros(2, 1, 8, 8, dtype=torch.bool)
    known[:, 0, 0, :2] = True  # two observed pixels, five components: the ridge decides
    filled = m.inpaint(x, known)
    assert torch.isfinite(filled).all() and torch.equal(filled[known], x[known])


class LinearGenerator(torch.nn.Module):
    """G(z) = W z on 20-d 'images': latent optimisation has a closed-form answer."""

    def __init__(self) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(3)
        self.w = torch.nn.Parameter(torch.randn(20, 4, generator=gen))

    @property
    def device(self) -> torch.device:
        return self.w.device

    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, 4, generator=generator)

    def generate(self, z: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return z @ self.w.T


def test_latent_optimisation_on_a_linear_generator_recovers_z(monkeypatch) -> None:
    model = LinearGenerator()
    w = model.w.detach().double()
    z_true = torch.randn(8, 4, generator=torch.Generator().manual_seed(4)).double()
    x = (z_true @ w.T).float()
    known = torch.ones_like(x, dtype=torch.bool)
    z, out = fit_latents(model, x, known, torch.Generator().manual_seed(0))
    torch.testing.assert_close(z.double(), ridge_optimum(w, x.double()), atol=2e-3, rtol=0)
    torch.testing.assert_close(z.double(), z_true, atol=0.05, rtol=0)  # the prior barely pulls
    assert model.w.grad is None and model.training  # weights frozen, mode restored
    # half the entries observed: the optimum on those alone, which is worse conditioned, so
    # Adam needs more than the protocol's steps to reach it exactly
    monkeypatch.setattr("bench.probes.latents.LATENT_STEPS", 1000)
    half = torch.arange(20) < 10
    z_half, out = fit_latents(model, x, half.expand_as(x), torch.Generator().manual_seed(0))
    optimum = ridge_optimum(w[half], x[:, half].double())
    torch.testing.assert_close(z_half.double(), optimum, atol=2e-3, rtol=0)
    torch.testing.assert_close(out, z_half @ model.w.detach().T)


def ridge_optimum(w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """argmin_z ||W z - x||^2 / n + PRIOR_WEIGHT ||z||^2 / d per row of x (n observed, d)."""
    n, d = w.shape
    gram = w.T @ w / n + PRIOR_WEIGHT / d * torch.eye(d, dtype=torch.float64)
    return torch.linalg.solve(gram, (x @ w / n).T).T
