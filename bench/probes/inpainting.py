"""In-painting probes: the model's completions of masked held-out images, by the first mechanism
in COMPLETIONS whose ability the model has, and the two baselines' completions (no model).

Mechanisms, in order of preference:
  Inpaints      the model's own method: PCA's closed-form projection onto its principal subspace
                from the observed pixels, DDPM's replacement-conditioned reverse process;
  Generates     latent optimisation (bench/probes/latents.py): fit z to the observed pixels,
                fill the missing ones with G(z) (GANs);
  Reconstructs  iterative refinement: missing pixels start uniform in the data's range (training
                split's min and max, seeded), then REFINE_STEPS times: reconstruct, put the known
                pixels back (autoencoders and VAEs).
Completions are embedded in the dataset's feature space by the evaluator (`embeds`), so the
metric reads their class logits as tensors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from bench.data.base import DataSplits, EvalSpec
from bench.metrics.inpainting import INPAINT_IMAGES, REFINE_STEPS, masks
from bench.models.abilities import Generates, Inpaints, Reconstructs
from bench.models.nets import inference
from bench.probes import PROBES, Probe
from bench.probes.heldout import eval_generator, heldout
from bench.probes.latents import latent_inpaint

# (model, x, known, generator, (low, high) of the data) -> x with the unknown entries filled in
Completer = Callable[[Any, torch.Tensor, torch.Tensor, torch.Generator, tuple], torch.Tensor]


def own_inpaint(
    model: Any, x: torch.Tensor, known: torch.Tensor, generator: torch.Generator, span: tuple
) -> torch.Tensor:
    with inference(model):
        return model.inpaint(x, known, generator).cpu().float()


def latent_completion(
    model: Any, x: torch.Tensor, known: torch.Tensor, generator: torch.Generator, span: tuple
) -> torch.Tensor:
    return latent_inpaint(model, x, known, generator)


def refine(
    model: Any, x: torch.Tensor, known: torch.Tensor, generator: torch.Generator, span: tuple
) -> torch.Tensor:
    """Iterative refinement: reconstruct, put the known pixels back, REFINE_STEPS times, from
    missing pixels drawn uniformly in the data's range."""
    x, known = x.to(model.device), known.to(model.device)
    low, high = span
    noise = torch.rand(x.shape, generator=generator, device=generator.device).to(x.device)
    current = torch.where(known, x, low + (high - low) * noise)
    for _ in range(REFINE_STEPS):
        current = torch.where(known, x, model.reconstruct(current, None).to(x.dtype))
    return current.cpu().float()


COMPLETIONS: tuple[tuple[type, Completer], ...] = (
    (Inpaints, own_inpaint),
    (Generates, latent_completion),
    (Reconstructs, refine),
)


def completer(model: Any) -> Completer | None:
    """The mechanism that completes images for `model`: the first in COMPLETIONS it can use."""
    return next((fn for ability, fn in COMPLETIONS if isinstance(model, ability)), None)


def task(splits: DataSplits, limit: int = INPAINT_IMAGES) -> tuple[torch.Tensor, torch.Tensor]:
    """The first `limit` held-out images and their masks (len(MASKS), n, *shape)."""
    x, _ = heldout(splits, limit)
    return x, masks(tuple(x.shape[1:]), len(x))


def span(splits: DataSplits) -> tuple[float, float]:
    """The data's value range as the training split spans it."""
    return float(splits.train.min()), float(splits.train.max())


def inpaint_all(
    model: Any, x: torch.Tensor, known: torch.Tensor, splits: DataSplits
) -> torch.Tensor:
    """(len(masks), n, *shape) completions of x under each mask of `known`, one seeded stream."""
    complete = completer(model)
    assert complete is not None  # the probe's `needs` saw to it
    gen = eval_generator(model)
    return torch.stack([complete(model, x, k, gen, span(splits)) for k in known])


@PROBES.register("inpainting")
class Inpainting(Probe):
    description = (
        f"the first {INPAINT_IMAGES} held-out images completed under each mask, by the model's "
        "own inpaint, latent optimisation or iterative refinement (in that order of preference)"
    )
    needs = tuple(ability for ability, _ in COMPLETIONS)
    keys = ("inpainted", "inpainted_features", "inpainted_logits")
    embeds = ("inpainted",)

    def run(self, model: Any, splits: DataSplits, spec: EvalSpec) -> dict[str, torch.Tensor]:
        x, known = task(splits)
        return {"inpainted": inpaint_all(model, x, known, splits)}


# ---------------------------------------------------------------- baselines


def nearest_fill(x: torch.Tensor, known: torch.Tensor, train: torch.Tensor) -> torch.Tensor:
    """x with its missing pixels taken from the training image closest on its observed pixels:
    ||k (x - t)||^2 = k.x^2 - 2 (k x).t + k.t^2, one matrix product per term (float64)."""
    flat, k, t = x.flatten(1).double(), known.flatten(1).double(), train.flatten(1).double()
    distance = (k * flat.pow(2)).sum(1, keepdim=True) - 2 * (k * flat) @ t.T + k @ t.pow(2).T
    return torch.where(known, x, train[distance.argmin(dim=1)])


@PROBES.register("inpainting_baselines")
class InpaintingBaselines(Probe):
    description = (
        "the in-painting masks and two model-free completions: the training mean image, and the "
        "training image nearest on the observed pixels"
    )
    keys = (
        "inpaint_known",
        *(
            f"inpainted_{b}{part}"
            for b in ("mean_fill", "nearest")
            for part in ("", "_features", "_logits")
        ),
    )
    embeds = ("inpainted_mean_fill", "inpainted_nearest")

    def run(self, model: Any, splits: DataSplits, spec: EvalSpec) -> dict[str, torch.Tensor]:
        x, known = task(splits)
        mean = splits.train.mean(0)
        return {
            "inpaint_known": known,
            "inpainted_mean_fill": torch.stack([torch.where(k, x, mean) for k in known]),
            "inpainted_nearest": torch.stack([nearest_fill(x, k, splits.train) for k in known]),
        }
