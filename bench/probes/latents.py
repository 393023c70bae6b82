"""Latent optimisation for models that `Generate`: find, for each image, the latent whose sample
matches its observed pixels. In-painting fills the missing pixels from that sample; anomaly
detection scores an image by how badly the best sample matches it (all pixels observed).

The objective per image is ||known * (G(z) - x)||^2 / n_known + PRIOR_WEIGHT * ||z||^2 / d: the
mean squared error on the observed pixels, plus a pull towards the prior's typical set so that z
stays a latent the generator has seen. It is summed over the batch, so each image's latent
follows its own Adam trajectory (Adam is per coordinate) whatever else is in the batch. The start
is one draw from the model's prior with a fixed seed; the generator's weights are frozen and it
runs in eval mode (BatchNorm on its running statistics), as when sampling."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from bench.metrics.autoencoding import CHUNK, EVAL_SEED, LATENT_LR, LATENT_STEPS, PRIOR_WEIGHT
from bench.models.nets import frozen
from bench.probes.heldout import eval_generator


@contextmanager
def evaluating(model: nn.Module) -> Iterator[None]:
    """Eval mode and frozen weights, gradients on (for the latents alone)."""
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad(), frozen(model):
            yield
    finally:
        model.train(was_training)


def fixed_noise(model: Any) -> torch.Generator:
    """A generator seeded afresh: the same extra noise (StyleGAN's) at every call."""
    return eval_generator(model, EVAL_SEED + 1)


def objective(
    out: torch.Tensor, x: torch.Tensor, known: torch.Tensor, z: torch.Tensor
) -> torch.Tensor:
    """(B,) masked mean squared error on the known entries + the prior term."""
    k = known.to(out.dtype)
    data = (k * (out - x)).pow(2).flatten(1).sum(1) / k.flatten(1).sum(1).clamp(min=1)
    return data + PRIOR_WEIGHT * z.flatten(1).pow(2).mean(1)


def fit_latents(
    model: Any, x: torch.Tensor, known: torch.Tensor, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """(z, G(z)) after LATENT_STEPS Adam steps on `objective`, for one batch x (B, *shape) with
    its mask `known` (bool, x's shape), starting from the prior draw `model.latent(B, generator)`.
    Both on the model's device, detached."""
    x, known = x.to(model.device), known.to(model.device)
    with evaluating(model):
        z = model.latent(len(x), generator).detach().requires_grad_(True)
        opt = torch.optim.Adam([z], lr=LATENT_LR)
        for _ in range(LATENT_STEPS):
            loss = objective(model.generate(z, fixed_noise(model)), x, known, z).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        with torch.no_grad():
            out = model.generate(z, fixed_noise(model))
    return z.detach(), out.detach()


def latent_inpaint(
    model: Any, x: torch.Tensor, known: torch.Tensor, generator: torch.Generator
) -> torch.Tensor:
    """x with its unknown entries taken from the sample of the fitted latent (on the CPU)."""
    parts = [
        torch.where(
            k.to(model.device), xs.to(model.device), fit_latents(model, xs, k, generator)[1]
        )
        for xs, k in zip(torch.split(x, CHUNK), torch.split(known, CHUNK), strict=True)
    ]
    return torch.cat(parts).cpu().float()


def latent_residuals(model: Any, x: torch.Tensor) -> torch.Tensor:
    """(N,) mean squared error of each image against the sample of its fitted latent, every
    pixel observed: how far the image lies from what the generator can make."""
    generator = eval_generator(model)
    parts = []
    for xs in torch.split(x, CHUNK):
        _, out = fit_latents(model, xs, torch.ones_like(xs, dtype=torch.bool), generator)
        parts.append((out.cpu().float() - xs.float()).pow(2).flatten(1).mean(1))
    return torch.cat(parts)
