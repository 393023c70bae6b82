"""Latent interpolation: how each kind of model walks between two of its latents, for the
perceptual path length (bench/metrics/path_length.py) and the interpolation picture.

INTERPOLATIONS picks, by the first abilities a model has, where its latents come from, how the
path runs and how a latent becomes data:
  Generates                 GANs: z ~ N(0, I) from `latent`, slerp, `generate` (fixed noise);
  Variational, SamplesCodes VAEs: codes from the prior N(0, I), slerp, `decode`;
  SamplesCodes              other autoencoders: codes from the density fitted on their training
                            codes (not an isotropic Gaussian, maybe non-negative), lerp, `decode`;
  DecodesNoise              DDPM: noise images x_T ~ N(0, I), slerp, DDIM `decode_latent` (the
                            picture only: see PathSteps for why not the metric).
Slerp (Shoemake 1985, as White 2016 uses it for generative models) follows the great circle at
the endpoints' norms, so a Gaussian latent stays where the prior puts its mass; lerp's midpoints
would be atypically short vectors."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from bench.data.base import DataSplits, EvalSpec
from bench.metrics.autoencoding import CHUNK
from bench.metrics.path_length import PATH_EPS, PATH_PAIRS
from bench.models.abilities import DecodesNoise, Generates, SamplesCodes, Variational
from bench.models.nets import inference
from bench.probes import PROBES, Probe
from bench.probes.heldout import eval_generator
from bench.probes.latents import fixed_noise

Path = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def lerp(z1: torch.Tensor, z2: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """(1 - t) z1 + t z2 row by row; t (n,)."""
    t = t.reshape(-1, *[1] * (z1.dim() - 1)).to(z1.dtype)
    return (1 - t) * z1 + t * z2


def slerp(z1: torch.Tensor, z2: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation row by row: sin((1-t) w) / sin w z1 + sin(t w) / sin w z2, w the
    angle between z1 and z2 (lerp where they are parallel); t (n,)."""
    a, b = z1.flatten(1), z2.flatten(1)
    cos = (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1)).clamp(min=1e-30)
    omega = cos.clamp(-1.0, 1.0).acos().reshape(-1, *[1] * (z1.dim() - 1))
    t = t.reshape(omega.shape).to(z1.dtype)
    sin = omega.sin()
    parallel = sin.abs() < 1e-7
    safe = torch.where(parallel, torch.ones_like(sin), sin)
    w1 = torch.where(parallel, 1 - t, ((1 - t) * omega).sin() / safe)
    w2 = torch.where(parallel, t, (t * omega).sin() / safe)
    return w1 * z1 + w2 * z2


def generated(model: Any, z: torch.Tensor) -> torch.Tensor:
    with inference(model):
        return model.generate(z, fixed_noise(model))


@dataclass(frozen=True)
class Interpolation:
    draw: Callable[[Any, int, torch.Generator], torch.Tensor]  # (model, n, generator) -> latents
    path: Path
    decode: Callable[[Any, torch.Tensor], torch.Tensor]  # (model, latents) -> data, no gradients
    how: str  # shown in the picture's title


INTERPOLATIONS: tuple[tuple[tuple[type, ...], Interpolation], ...] = (
    (
        (Generates,),
        Interpolation(lambda m, n, g: m.latent(n, g), slerp, generated, "slerp of z ~ N(0, I)"),
    ),
    (
        (Variational, SamplesCodes),
        Interpolation(
            lambda m, n, g: m.sample_codes(n, g), slerp, lambda m, z: m.decode(z), "slerp, prior"
        ),
    ),
    (
        (SamplesCodes,),
        Interpolation(
            lambda m, n, g: m.sample_codes(n, g), lerp, lambda m, z: m.decode(z), "lerp of codes"
        ),
    ),
    (
        (DecodesNoise,),
        Interpolation(
            lambda m, n, g: m.noise(n, g),
            slerp,
            lambda m, z: m.decode_latent(z),
            "slerp of x_T, DDIM decoded",
        ),
    ),
)


def interpolation(model: Any) -> Interpolation | None:
    """How `model` interpolates: the first entry of INTERPOLATIONS whose abilities it has."""
    for abilities, how in INTERPOLATIONS:
        if all(isinstance(model, ability) for ability in abilities):
            return how
    return None


def decoded(model: Any, how: Interpolation, z: torch.Tensor) -> torch.Tensor:
    """Data of latents z in chunks, on the CPU (in the model's precision: float32 as a rule)."""
    parts = [how.decode(model, chunk).detach().cpu() for chunk in torch.split(z, CHUNK)]
    return torch.cat(parts)


def path_points(
    model: Any, how: Interpolation, z1: torch.Tensor, z2: torch.Tensor, t: torch.Tensor
) -> torch.Tensor:
    """Data at p(t) between the rows of z1 and z2, the path computed in float64."""
    z = how.path(z1.double(), z2.double(), t.double()).to(z1.dtype)
    return decoded(model, how, z)


@PROBES.register("path_steps")
class PathSteps(Probe):
    """Both ends of one short step along the path between each of PATH_PAIRS latent pairs, in
    data space (the evaluator embeds them). The pairs and t come from one EVAL_SEED stream, so
    every evaluation walks the same paths. DDPM is left out: each of the 2 x PATH_PAIRS points
    costs a full DDIM decode (sample_steps network calls), and the finite difference then runs
    through every step of that solver."""

    description = (
        f"images at t and t + {PATH_EPS:g} on the latent paths between {PATH_PAIRS} pairs "
        "(slerp for Gaussian latents, lerp for fitted code densities)"
    )
    needs = (Generates, SamplesCodes)
    keys = (
        "path_start",
        "path_end",
        *(f"path_{e}_{p}" for e in ("start", "end") for p in ("features", "logits")),
    )
    embeds = ("path_start", "path_end")

    def run(self, model: Any, splits: DataSplits, spec: EvalSpec) -> dict[str, torch.Tensor]:
        how = interpolation(model)
        assert how is not None  # the probe's `needs` saw to it
        gen = eval_generator(model)
        with inference(model):
            z = how.draw(model, 2 * PATH_PAIRS, gen)
        z1, z2 = z[:PATH_PAIRS], z[PATH_PAIRS:]
        t = torch.rand(PATH_PAIRS, generator=gen, device=gen.device).to(z.device)
        return {
            "path_start": path_points(model, how, z1, z2, t),
            "path_end": path_points(model, how, z1, z2, t + PATH_EPS),
        }


def interpolation_grid(
    model: Any, rows: int, steps: int, generator: torch.Generator
) -> tuple[torch.Tensor, str] | None:
    """(rows * steps, *shape) data along the paths between `rows` random latent pairs, `steps`
    evenly spaced points each (endpoints included), and how they were made; None for a model
    without a latent to walk."""
    how = interpolation(model)
    if how is None:
        return None
    with inference(model):
        z = how.draw(model, 2 * rows, generator)
    t = torch.linspace(0, 1, steps, device=z.device).repeat(rows)
    z1 = z[:rows].repeat_interleave(steps, 0)
    z2 = z[rows:].repeat_interleave(steps, 0)
    return path_points(model, how, z1, z2, t), how.how
