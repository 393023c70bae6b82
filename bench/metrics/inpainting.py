"""In-painting: how well a model fills in the missing pixels of held-out images, each model by
its own mechanism (bench/probes/inpainting.py), against two baselines that know only the
training data.

The protocol lives here so that every model is asked the same question: the first
INPAINT_IMAGES held-out images, under three masks fixed by MASK_SEED (a centre square of half
the side, the left half, half the pixels at random), scored on the missing pixels alone. The
scores are pure functions of tensors: the completions and their class logits come from the
evaluator's probes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from bench.data.base import DataInfo, EvalSpec
from bench.metrics.autoencoding import (
    EVAL_SEED,
    LATENT_LR,
    LATENT_STEPS,
    PRIOR_WEIGHT,
    finite,
    probed,
)
from bench.metrics.base import METRICS, EvalInputs, Metric, MetricInputError

if TYPE_CHECKING:
    pass

MASKS = ("center", "left", "random")  # the order of the masks' first axis in the probes
INPAINT_IMAGES = 500  # held-out images in-painted (the first ones: a fixed subset)
MASK_SEED = 7  # the random mask's pixels: the same for every model and evaluation
REFINE_STEPS = 20  # reconstructions of iterative refinement (autoencoders)
MSE_FLOOR = 1e-10  # of range^2: an exact completion scores PSNR 100 dB, not infinity
# Completions the metric scores: the model's, then the baselines' (key suffix -> probe key).
SOURCES = {"": "inpainted", "_mean_fill": "inpainted_mean_fill", "_nearest": "inpainted_nearest"}
SCORES = {"mse": "min", "psnr": "max", "accuracy": "max"}


def masks(shape: tuple[int, ...], n: int, seed: int = MASK_SEED) -> torch.Tensor:
    """(len(MASKS), n, *shape) bool, True where a pixel is observed, for images (C, H, W): the
    centre square of half the side missing; the left half missing; half of the pixels missing
    at random (exactly half, per image, the same pixels in every channel)."""
    _, height, width = shape
    centre = torch.ones(shape, dtype=torch.bool)
    top, left = height // 4, width // 4
    centre[:, top : top + height // 2, left : left + width // 2] = False
    left_half = torch.ones(shape, dtype=torch.bool)
    left_half[:, :, : width // 2] = False
    gen = torch.Generator().manual_seed(seed)
    order = torch.rand(n, height * width, generator=gen).argsort(dim=1)
    random = (order >= height * width // 2).reshape(n, 1, height, width).expand(n, *shape)
    fixed = [m.expand(n, *shape) for m in (centre, left_half)]
    return torch.stack([*fixed, random])


def missing_mse(filled: torch.Tensor, x: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """(N,) mean squared error of each completion over its missing entries."""
    if filled.shape != x.shape or known.shape != x.shape:
        raise MetricInputError(
            f"inpainting: completions {tuple(filled.shape)}, originals {tuple(x.shape)} and "
            f"masks {tuple(known.shape)} differ in shape"
        )
    miss = (~known).flatten(1).double()
    squared = (filled.double() - x.double()).pow(2).flatten(1)
    return (miss * squared).sum(1) / miss.sum(1).clamp(min=1)


def psnr(mse: torch.Tensor, data_range: float) -> torch.Tensor:
    """(N,) peak signal-to-noise ratio in dB of per-image MSEs, 10 log10(range^2 / MSE), the
    MSE floored at MSE_FLOOR * range^2 (an exact completion: 100 dB)."""
    peak = data_range**2
    return 10 * torch.log10(peak / mse.clamp(min=MSE_FLOOR * peak))


def class_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of completions the classifier assigns to the original's class."""
    return (logits.argmax(-1) == labels.to(logits.device)).double().mean().item()


def inpainting_scores(
    filled: torch.Tensor,
    x: torch.Tensor,
    known: torch.Tensor,
    data_range: float,
    logits: torch.Tensor | None = None,
    labels: torch.Tensor | None = None,
) -> dict[str, float]:
    """MSE and PSNR (means over images) on the missing pixels, and the class accuracy of the
    completions when their logits and the originals' labels are given."""
    mse = missing_mse(filled, x, known)
    scores = {"mse": mse.mean().item(), "psnr": psnr(mse, data_range).mean().item()}
    if logits is not None and labels is not None:
        scores["accuracy"] = class_accuracy(logits, labels)
    return scores


def value_span(info: DataInfo, x: torch.Tensor) -> float:
    """The data range PSNR is relative to: the value range's width (else the originals')."""
    if info.value_range is not None:
        return float(info.value_range[1] - info.value_range[0])
    return float(x.max() - x.min()) or 1.0


@METRICS.register("inpainting")
class Inpainting(Metric):
    order = 14
    section = "In-painting"
    # Opt-in: latent optimisation of 500 images x 3 masks per evaluation took 74-231 s of a
    # 126-272 s image-GAN trial in suites/gans.yaml; suites that ask for it list it.
    by_default = False
    keys_vary = True  # class accuracy needs labels and a classifier of the same classes
    description = (
        f"in-painting of the first {INPAINT_IMAGES} held-out images under 3 masks (centre square "
        "of half the side, left half, 50% random pixels): MSE and PSNR on the missing pixels, "
        "share the dataset's classifier assigns to the original class; each model by its own "
        "mechanism (PCA: closed-form projection; DDPM: replacement; GANs: latent optimisation, "
        f"{LATENT_STEPS} Adam steps; autoencoders: {REFINE_STEPS} rounds of iterative "
        "refinement), beside mean-image and nearest-training-image fills"
    )
    directions = {
        f"{mask}_{score}{suffix}": better
        for mask in MASKS
        for suffix in SOURCES
        for score, better in SCORES.items()
    }
    unlabelled = "in-painting completes unlabelled images"
    probes = ("inpainting", "inpainting_baselines", "heldout", "labels")
    settings = {
        "images": INPAINT_IMAGES,
        "masks": ", ".join(MASKS),
        "mask_seed": MASK_SEED,
        "refine_steps": REFINE_STEPS,
        "latent_steps": LATENT_STEPS,
        "latent_lr": LATENT_LR,
        "prior_weight": PRIOR_WEIGHT,
        "seed": EVAL_SEED,
    }

    def applies(self, spec: EvalSpec, info: DataInfo) -> str | None:
        if info.kind != "image":
            return (
                f"in-painting fills in missing pixels of images, and this dataset holds {info.kind}"
            )
        return None

    def compute(self, inputs: EvalInputs, prepared: Any = None) -> dict[str, float]:
        known = probed(inputs, "inpaint_known", "inpainting")
        x = probed(inputs, "heldout", "inpainting")[: known.shape[1]]
        labels = self.labels(inputs, known.shape[1])
        span = value_span(inputs.info, x)
        values: dict[str, float] = {}
        for suffix, key in SOURCES.items():
            filled = probed(inputs, key, "inpainting")
            logits = inputs.probes.get(f"{key}_logits") if labels is not None else None
            for i, mask in enumerate(MASKS):
                scores = inpainting_scores(
                    filled[i], x, known[i], span, None if logits is None else logits[i], labels
                )
                values |= {f"{mask}_{score}{suffix}": v for score, v in scores.items()}
        return finite("inpainting", values)

    @staticmethod
    def labels(inputs: EvalInputs, n: int) -> torch.Tensor | None:
        """The originals' labels when the feature space classifies into the data's classes."""
        labels = inputs.probes.get("labels")
        logits = inputs.probes.get("inpainted_logits")
        classes = inputs.info.num_classes
        if labels is None or logits is None or logits.shape[-1] != classes:
            return None
        return labels[:n]
