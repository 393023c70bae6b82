"""The pictures a trial leaves next to its metrics, rendered in the worker at the trial's end so
only a few kilobytes of PNG travel back: the samples, generated images beside their nearest
training images (memorization you can see), the mode histogram of mode-labelled datasets, and,
given the model, what it does with its latent space (a traversal, interpolations) and how it
in-paints."""

from __future__ import annotations

import numpy as np
import torch

from bench.data.base import DataInfo
from bench.metrics import METRICS
from bench.metrics.inpainting import MASKS
from bench.metrics.modes import high_quality_counts
from bench.models.abilities import SamplesCodes
from bench.models.base import GenerativeModel
from bench.models.nets import inference
from bench.plots import image_grid, png_bytes, pyplot, samples_png
from bench.probes import unmeasurable
from bench.probes.inpainting import inpaint_all, task
from bench.probes.interpolation import interpolation_grid
from bench.trial.evaluate import DatasetAssets, Evaluation

PREVIEW_IMAGES = 64  # a grid of 8 x 8
PREVIEW_POINTS = 2000
NEIGHBOUR_ROWS = 8  # generated images shown
NEIGHBOURS = 4  # nearest training images beside each


def displayable(images: np.ndarray) -> np.ndarray:
    """Images with 1 or 3 channels as they are; others (a paired A|B sample) side by side."""
    n, channels, height, width = images.shape
    if channels in (1, 3):
        return images
    return images.transpose(0, 2, 1, 3).reshape(n, 1, height, channels * width)


def nearest_training(
    evaluation: Evaluation, assets: DatasetAssets
) -> tuple[np.ndarray, np.ndarray]:
    """The first NEIGHBOUR_ROWS generated samples and, for each, its NEIGHBOURS nearest training
    samples in the feature space (among the reference subset of the training split)."""
    assert evaluation.samples is not None and evaluation.features is not None
    fake = evaluation.features.features[:NEIGHBOUR_ROWS]
    k = min(NEIGHBOURS, len(assets.reference.features))
    idx = torch.cdist(fake, assets.reference.features).topk(k, largest=False).indices
    neighbours = assets.splits.train[assets.reference_index[idx]]
    return evaluation.samples[: len(fake)].numpy(), neighbours.numpy()


def neighbours_png(fake: np.ndarray, neighbours: np.ndarray) -> bytes:
    """One row per generated image: the image, then its nearest training images."""
    plt = pyplot()
    rows = np.concatenate([fake[:, None], neighbours], axis=1)  # (r, 1 + k, C, H, W)
    tiles = displayable(rows.reshape(-1, *rows.shape[2:]))
    fig = image_grid(plt, tiles, None, cols=rows.shape[1])
    fig.suptitle("generated (left) and its nearest training images", fontsize=8)
    return png_bytes(plt, fig)


def mode_counts(evaluation: Evaluation, assets: DatasetAssets) -> tuple[np.ndarray, np.ndarray]:
    """Per mode, generated and real (reference) counts. Mixtures count high-quality samples at
    their nearest centre; class-labelled datasets count the feature space's mode assignment."""
    spec = assets.spec
    if spec.mode_centers is not None and spec.mode_std is not None:
        centres = torch.as_tensor(spec.mode_centers, dtype=torch.float64)

        def count(x: torch.Tensor) -> np.ndarray:
            flat = x.reshape(len(x), -1).double()
            return high_quality_counts(flat, centres, spec.mode_std)[0].numpy()

        real = assets.splits.train[assets.reference_index]
        return count(evaluation.samples), count(real)
    assert evaluation.features is not None and evaluation.features.modes is not None
    assert assets.reference.modes is not None and spec.num_modes is not None
    k = spec.num_modes
    fake = torch.bincount(evaluation.features.modes, minlength=k).numpy()
    return fake, torch.bincount(assets.reference.modes, minlength=k).numpy()


def mode_histogram_png(fake: np.ndarray, real: np.ndarray) -> bytes:
    """Share of samples per mode, generated against real: collapse shows as empty bars."""
    plt = pyplot()
    k = len(fake)
    fig, ax = plt.subplots(figsize=(min(12, 2 + 0.4 * k), 3))
    modes = np.arange(k)
    ax.bar(modes, fake / max(fake.sum(), 1), width=0.8 if k <= 100 else 1.0, label="generated")
    ax.step(modes, real / max(real.sum(), 1), where="mid", color="tab:orange", label="real")
    ax.set_xlabel("mode")
    ax.set_ylabel("share of samples")
    ax.set_title(f"{int((fake > 0).sum())} of {k} modes hit", fontsize=9)
    ax.legend(fontsize=8)
    return png_bytes(plt, fig)


def has_modes(evaluation: Evaluation, assets: DatasetAssets) -> bool:
    spec = assets.spec
    if spec.mode_centers is not None and spec.mode_std is not None:
        return True
    return bool(
        spec.num_modes
        and evaluation.features is not None
        and evaluation.features.modes is not None
        and assets.reference.modes is not None
    )


def trial_pictures(
    evaluation: Evaluation,
    assets: DatasetAssets,
    model: GenerativeModel | None = None,
    seed: int = 0,
) -> dict[str, bytes]:
    """File name -> PNG for every picture that fits this dataset (and, given the model, a latent
    traversal for autoencoders); none when samples are not finite (their metrics are already
    recorded as not computable)."""
    samples = evaluation.samples
    if samples is None or not torch.isfinite(samples).all():
        return {}
    info = assets.info
    shown = preview(samples, info)
    reference = assets.splits.train[:PREVIEW_POINTS].numpy()
    if info.kind == "image":
        shown = displayable(shown)
    pictures = {"samples.png": samples_png(shown, info, reference)}
    if info.kind == "image" and evaluation.features is not None:
        pictures["neighbours.png"] = neighbours_png(*nearest_training(evaluation, assets))
    if has_modes(evaluation, assets):
        pictures["modes.png"] = mode_histogram_png(*mode_counts(evaluation, assets))
    if model is not None:
        pictures |= model_pictures(model, assets, seed)
    return pictures


def model_pictures(model: GenerativeModel, assets: DatasetAssets, seed: int) -> dict[str, bytes]:
    """The pictures drawn with the model itself, each from a generator seeded with `seed`."""
    made = {
        "traversal.png": lambda gen: latent_traversal_png(model, assets.info, gen),
        "interpolation.png": lambda gen: interpolation_png(model, assets.info, gen),
        "inpainting.png": lambda gen: inpainting_png(model, assets),
    }
    pictures = {}
    for name, draw in made.items():
        png = draw(torch.Generator(device=model.device).manual_seed(seed))
        if png is not None:
            pictures[name] = png
    return pictures


# --- latent traversal -------------------------------------------------------------------------


def preview(samples: torch.Tensor | None, info: DataInfo) -> np.ndarray | None:
    """The few samples a trial sends back for its picture (the rest never leave the worker)."""
    if samples is None:
        return None
    keep = PREVIEW_IMAGES if info.kind == "image" else PREVIEW_POINTS
    return samples[:keep].numpy()


TRAVERSAL_UNITS = 10  # rows: the latent units that vary most under the model's sampler


TRAVERSAL_STEPS = 9  # columns: from -TRAVERSAL_SPREAD to +TRAVERSAL_SPREAD stds of that unit


TRAVERSAL_SPREAD = 2.5


TRAVERSAL_PROBE = 1000  # codes drawn to measure each unit's centre and spread


def latent_traversal(
    model: GenerativeModel, info: DataInfo, generator: torch.Generator
) -> np.ndarray | None:
    """Decoded latent traversals (rows x steps, *info.shape): one code drawn from the model's
    sampler (its prior, or the density fitted on its codes); row r sweeps one unit from its
    centre - 2.5 std to + 2.5 std, the other units held. None for non-image data or a model
    that does not sample codes and decode them (`SamplesCodes`; e.g. a GAN)."""
    if info.kind != "image" or not isinstance(model, SamplesCodes):
        return None
    with inference(model):
        probe = model.sample_codes(TRAVERSAL_PROBE, generator)
        centre, spread = probe.mean(0), probe.std(0)
        units = spread.argsort(descending=True)[:TRAVERSAL_UNITS]
        unit = units.repeat_interleave(TRAVERSAL_STEPS)
        offsets = torch.linspace(-TRAVERSAL_SPREAD, TRAVERSAL_SPREAD, TRAVERSAL_STEPS)
        offsets = offsets.to(probe.device).repeat(len(units))
        codes = probe[:1].repeat(len(unit), 1)
        rows = torch.arange(len(unit), device=probe.device)
        codes[rows, unit] = centre[unit] + offsets * spread[unit]
        images = model.decode(codes)
    return images.detach().cpu().float().numpy()


def latent_traversal_png(
    model: GenerativeModel, info: DataInfo, generator: torch.Generator
) -> bytes | None:
    """PNG bytes of `latent_traversal` as a grid, one unit per row; None where it is None."""
    images = latent_traversal(model, info, generator)
    if images is None:
        return None
    plt = pyplot()
    return png_bytes(plt, image_grid(plt, images, None, cols=TRAVERSAL_STEPS))


# --- latent interpolation and in-painting ------------------------------------------------------

INTERPOLATION_ROWS = 6  # random latent pairs
INTERPOLATION_STEPS = 9  # points along each path, both ends included
INPAINT_ROWS = 4  # held-out images shown under each mask


def interpolation_png(
    model: GenerativeModel, info: DataInfo, generator: torch.Generator
) -> bytes | None:
    """Rows of decoded points along the path between two random latents of the model (slerp or
    lerp, as bench.probes.interpolation chooses); None for non-image data, a model without a
    latent to walk, or a conditional one (its decoder needs a label)."""
    if info.kind != "image" or getattr(model, "conditional", False):
        return None
    grid = interpolation_grid(model, INTERPOLATION_ROWS, INTERPOLATION_STEPS, generator)
    if grid is None:
        return None
    images, how = grid
    plt = pyplot()
    fig = image_grid(plt, displayable(images.numpy()), None, cols=INTERPOLATION_STEPS)
    fig.suptitle(f"latent interpolation: {how}", fontsize=8)
    return png_bytes(plt, fig)


def inpainting_rows(model: GenerativeModel, assets: DatasetAssets) -> np.ndarray:
    """(INPAINT_ROWS * 3 * len(MASKS), *shape): per held-out image, for each mask, the masked
    input (missing pixels mid-grey), the model's completion and the original, with the metric's
    masks and mechanism."""
    x, known = task(assets.splits, INPAINT_ROWS)
    filled = inpaint_all(model, x, known, assets.splits)
    low, high = assets.info.value_range or (0.0, 1.0)
    masked = torch.where(known, x, torch.full_like(x, (low + high) / 2))
    triples = torch.stack([masked, filled, x.expand_as(filled)], dim=2)  # (M, r, 3, *shape)
    return triples.transpose(0, 1).reshape(-1, *x.shape[1:]).numpy()


def inpainting_png(model: GenerativeModel, assets: DatasetAssets) -> bytes | None:
    """The in-painting metric's task shown on the first held-out images; None where the metric
    cannot measure this model or dataset."""
    metric = METRICS.get("inpainting")
    cls = type(model)
    if metric.applies(assets.spec, assets.info) or unmeasurable(metric, cls):
        return None
    plt = pyplot()
    fig = image_grid(plt, displayable(inpainting_rows(model, assets)), None, cols=3 * len(MASKS))
    title = " | ".join(MASKS) + ": masked, completed, original"
    fig.suptitle(title, fontsize=7)
    return png_bytes(plt, fig)
