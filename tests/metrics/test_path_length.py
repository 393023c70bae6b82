"""Perceptual path length: Karras et al.'s trimmed estimator, the analytic values of a linear
decoder (slerp: c^2 * angle^2; lerp: c^2 ||z2 - z1||^2), a Monte-Carlo check of the whole probe
against a direct derivative, and which path each kind of model walks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from bench.data.base import DataSplits, EvalSpec
from bench.metrics import METRICS, Features
from bench.metrics.path_length import (
    PATH_EPS,
    PATH_PAIRS,
    perceptual_path_length,
    step_lengths,
    trimmed_mean,
)
from bench.models import MODELS
from bench.probes import run_probes
from bench.probes.heldout import eval_generator
from bench.probes.interpolation import interpolation, lerp, path_points, slerp

D = 5


class Decoder(torch.nn.Module):
    """x = c A z (tanh of it when nonlinear), float64; A is the identity unless given."""

    def __init__(self, c: float, a: torch.Tensor | None = None, nonlinear: bool = False) -> None:
        super().__init__()
        self.c, self.nonlinear = c, nonlinear
        self.register_buffer("a", torch.eye(D, dtype=torch.float64) if a is None else a)

    @property
    def device(self) -> torch.device:
        return self.a.device

    def draw(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, D, generator=generator, dtype=torch.float64)

    def map(self, z: torch.Tensor) -> torch.Tensor:
        out = self.c * z.double() @ self.a.T
        return torch.tanh(out) if self.nonlinear else out


class Linear(Decoder):
    """A generator of Gaussian latents (Generates): slerp."""

    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.draw(n, generator)

    def generate(self, z: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.map(z)


class Codes(Decoder):
    """A decoder of codes from a fitted density (SamplesCodes, not Variational): lerp."""

    def sample_codes(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.draw(n, generator)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.map(z)


def identity(x: torch.Tensor) -> Features:
    return Features(features=x.double())


def test_trimmed_mean_is_karras_percentile_trimming() -> None:
    values = torch.rand(537, generator=torch.Generator().manual_seed(0)) ** 4 * 100
    v = values.double().numpy()
    low, high = np.percentile(v, 1, method="lower"), np.percentile(v, 99, method="higher")
    assert trimmed_mean(values) == pytest.approx(v[(v >= low) & (v <= high)].mean(), rel=1e-12)
    assert trimmed_mean(torch.tensor([1.0, 1.0, 1.0, 1000.0] * 50)) == 1.0 + 999 * 0.25


def test_step_lengths_are_squared_feature_distances_over_eps_squared() -> None:
    start = torch.zeros(3, 2, dtype=torch.float64)
    end = torch.tensor([[3e-4, 4e-4], [0.0, 0.0], [1e-4, 0.0]], dtype=torch.float64)
    torch.testing.assert_close(step_lengths(start, end), torch.tensor([25.0, 0.0, 1.0]).double())


@pytest.mark.parametrize("t", [0.0, 0.3, 0.99])
def test_slerp_of_orthogonal_unit_latents_gives_c2_times_the_angle_squared(t: float) -> None:
    c = 3.0
    model = Linear(c)
    how = interpolation(model)
    assert how is not None and how.path is slerp
    z1 = torch.eye(D, dtype=torch.float64)[:1].repeat(4, 1)
    z2 = torch.eye(D, dtype=torch.float64)[1:2].repeat(4, 1)
    ts = torch.full((4,), t, dtype=torch.float64)
    start = path_points(model, how, z1, z2, ts).double()
    end = path_points(model, how, z1, z2, ts + PATH_EPS).double()
    expected = c**2 * (math.pi / 2) ** 2
    assert perceptual_path_length(start, end) == pytest.approx(expected, rel=1e-6)
    assert torch.allclose(start[0], c * slerp(z1, z2, ts)[0])


def test_lerp_gives_c2_times_the_squared_distance() -> None:
    c = 0.5
    model = Codes(c)
    how = interpolation(model)
    assert how is not None and how.path is lerp
    gen = torch.Generator().manual_seed(1)
    z1, z2 = model.draw(8, gen), model.draw(8, gen)
    t = torch.rand(8, generator=gen, dtype=torch.float64)
    start = path_points(model, how, z1, z2, t).double()
    end = path_points(model, how, z1, z2, t + PATH_EPS).double()
    expected = c**2 * (z2 - z1).pow(2).sum(1)
    torch.testing.assert_close(step_lengths(start, end), expected, rtol=1e-6, atol=0)


def direct_path_length(model: Linear, z1: torch.Tensor, z2: torch.Tensor, t: torch.Tensor):
    """The exact derivative ||d/dt g(slerp(z1, z2, t))||^2 per pair, by autograd: rows are
    independent, so the gradient of column j's sum in t_i is d x_ij / d t_i."""
    t = t.clone().requires_grad_(True)
    out = model.generate(slerp(z1, z2, t))
    columns = [torch.autograd.grad(out[:, j].sum(), t, retain_graph=True)[0] for j in range(D)]
    return torch.stack(columns, dim=1).pow(2).sum(1)


def test_the_probe_and_metric_agree_with_a_direct_computation() -> None:
    """Monte Carlo over the probe's own PATH_PAIRS pairs and t of a nonlinear decoder: the finite
    difference of the features equals the exact derivative, pair by pair and trimmed."""
    a = torch.randn(D, D, generator=torch.Generator().manual_seed(2), dtype=torch.float64) / 2
    model = Linear(1.0, a, nonlinear=True)
    splits = DataSplits(train=torch.zeros(4, D), heldout=torch.zeros(4, D))
    tensors, failed = run_probes(["path_steps"], model, splits, EvalSpec("raw"), identity)
    assert failed == {}
    gen = eval_generator(model)  # the probe's draws, replayed
    z = model.latent(2 * PATH_PAIRS, gen)
    t = torch.rand(PATH_PAIRS, generator=gen).double()
    exact = direct_path_length(model, z[:PATH_PAIRS], z[PATH_PAIRS:], t)
    measured = step_lengths(tensors["path_start_features"], tensors["path_end_features"])
    torch.testing.assert_close(measured, exact, rtol=2e-3, atol=1e-6)
    value = METRICS.get("path_length").compute(_inputs(tensors))["path_length"]
    assert value == pytest.approx(trimmed_mean(exact), rel=1e-3)


def _inputs(probes: dict[str, torch.Tensor]):
    from bench.data.base import DataInfo
    from bench.metrics import EvalInputs

    empty = Features(torch.zeros(1, 1))
    info = DataInfo(shape=(D,), kind="points", value_range=None)
    return EvalInputs(torch.zeros(1), empty, empty, EvalSpec("raw"), info, probes=probes)


def test_each_kind_of_model_walks_its_own_path() -> None:
    from bench.models.abilities import DecodesNoise

    paths = {name: interpolation(object.__new__(MODELS.get(name))) for name in MODELS.names()}
    assert paths["gan"].path is slerp and paths["stylegan"].path is slerp
    assert paths["vae"].path is slerp and paths["beta_vae"].path is slerp
    assert paths["ae"].path is lerp and paths["pca"].path is lerp
    assert paths["ddpm"].path is slerp and issubclass(MODELS.get("ddpm"), DecodesNoise)
    assert paths["cyclegan"] is None
    metric = METRICS.get("path_length")
    assert "conditional" in metric.applies_to_model(MODELS.get("cgan"))
    assert "DecodesNoise" not in str(metric.probes)  # ddpm: too costly, see PathSteps
    from bench.probes import unmeasurable

    assert "its probe 'path_steps' needs" in unmeasurable(metric, MODELS.get("ddpm"))
    assert unmeasurable(metric, MODELS.get("progan")) is None
