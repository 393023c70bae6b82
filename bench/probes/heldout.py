"""What every probe reads the same way: the fixed first rows of the held-out split, the chunks
it runs the model on, and the seeded generator of its stochastic estimates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from bench.data.base import DataSplits
from bench.metrics.autoencoding import CHUNK, EVAL_SEED, MAX_IMAGES
from bench.metrics.base import MetricInputError


def heldout(splits: DataSplits, limit: int | None = MAX_IMAGES) -> tuple[torch.Tensor, Any]:
    """(x, labels or None) of the first `limit` held-out points (all of them for None)."""
    x = splits.heldout[:limit]
    if len(x) == 0:
        raise MetricInputError("the held-out split is empty")
    labels = splits.heldout_labels
    return x, None if labels is None else labels[:limit]


def in_chunks(
    fn: Callable[[torch.Tensor, Any], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor | None,
    chunk: int = CHUNK,
) -> torch.Tensor:
    """fn(x_chunk, y_chunk) over `chunk`-row slices, concatenated on the CPU."""
    parts = []
    for start in range(0, len(x), chunk):
        ys = None if y is None else y[start : start + chunk]
        parts.append(fn(x[start : start + chunk], ys).detach().cpu())
    return torch.cat(parts)


def eval_generator(model: Any, seed: int = EVAL_SEED) -> torch.Generator:
    """A generator of its own on the model's device, seeded with EVAL_SEED: every stochastic
    estimate draws the same noise at every evaluation, and training's stream is untouched."""
    return torch.Generator(device=model.device).manual_seed(seed)


def present(key: str, value: torch.Tensor | None) -> dict[str, torch.Tensor]:
    return {} if value is None else {key: value}
