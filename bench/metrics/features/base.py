"""The feature-space contract: where samples are compared. A dataset names one in
`EvalSpec.feature_space`; a suite may measure it in others (`feature_spaces:`).

`fit` runs once per dataset in the driver and returns a small picklable state that Ray ships to
trials; `extractor` turns that state into a function from data-space samples to `Features`.
`batched` and `with_modes` build such functions from a network."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import torch

from bench.data.base import DataInfo, DataSplits
from bench.errors import BenchError
from bench.metrics.base import Features
from bench.registry import Registry

Extractor = Callable[[torch.Tensor], Features]
EXTRACT_BATCH = 512


class FeatureSpace:
    """Base class of registered feature spaces. Register an instance in `FEATURE_SPACES`."""

    description: ClassVar[str] = ""
    gives_logits: ClassVar[bool] = False  # extractor fills Features.logits (Inception Score)
    gives_modes: ClassVar[bool] = False  # extractor fills Features.modes (class mode coverage)

    def applies(self, info: DataInfo) -> str | None:
        """Why this space cannot measure such a dataset (from its static facts, nothing loaded),
        or None when it can: a suite's `feature_spaces` are checked with it before anything
        trains. `fit` still refuses what only the loaded data shows."""
        return None

    def fit(self, fingerprint: str, splits: DataSplits, info: DataInfo) -> dict | None:
        """Prepare the space for one dataset (once, in the driver); a small picklable state."""
        return None

    def extractor(self, state: dict | None, info: DataInfo, device: str) -> Extractor:
        raise NotImplementedError


FEATURE_SPACES: Registry[FeatureSpace] = Registry("feature space", FeatureSpace, instances=True)


class ImageSpace(FeatureSpace):
    """A space of networks that read grey or RGB images as uint8 pixels (inception, dinov2,
    clip): it needs the images' value range to map them to 0..255."""

    name: ClassVar[str] = ""  # the registered name, for messages

    def applies(self, info: DataInfo) -> str | None:
        try:
            image_range(self.name, info)
        except BenchError as exc:
            return exc.what
        return None


def image_range(space: str, info: DataInfo, where: str | None = None) -> tuple[float, float]:
    """The images' value range, or a BenchError when the data is not grey/RGB images."""
    if info.kind != "image" or len(info.shape) != 3 or info.shape[0] not in (1, 3):
        raise BenchError(
            f"the {space!r} feature space needs grey or RGB images, not {info.shape}",
            where=where,
            fix="use the 'raw' feature space for point data",
        )
    if info.value_range is None:
        raise BenchError(
            f"the {space!r} feature space needs images with a known value range",
            where=where,
            fix="give the dataset a value_range (e.g. (0, 1)) so pixels map to 0..255",
        )
    return info.value_range


def batched(
    fn: Callable[[torch.Tensor], tuple[torch.Tensor, ...]],
    device: str | torch.device,
    batch: int = EXTRACT_BATCH,
) -> Extractor:
    """Run `fn` on slices of `batch` rows under no_grad; float64 results on the CPU."""

    def extract(x: torch.Tensor) -> Features:
        parts: list[tuple[torch.Tensor, ...]] = []
        with torch.no_grad():
            for chunk in torch.split(x, batch):
                parts.append(tuple(t.cpu().double() for t in fn(chunk.to(device))))
        if not parts:
            raise ValueError("no samples to extract features from")
        outs = [torch.cat(column) for column in zip(*parts, strict=True)]
        return Features(features=outs[0], logits=outs[1] if len(outs) > 1 else None)

    return extract


def with_modes(extract: Extractor) -> Extractor:
    """`extract`, with Features.modes set to the most likely class of each sample."""

    def extract_with_modes(x: torch.Tensor) -> Features:
        out = extract(x)
        assert out.logits is not None  # only wrapped around classifier extractors
        out.modes = out.logits.argmax(dim=1)
        return out

    return extract_with_modes
