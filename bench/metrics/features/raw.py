"""The "raw" feature space: data-space coordinates as they are, for low-dimensional data."""

from __future__ import annotations

from bench.data.base import DataInfo
from bench.metrics.features.base import FEATURE_SPACES, Extractor, FeatureSpace, batched


@FEATURE_SPACES.register("raw")
class RawSpace(FeatureSpace):
    description = "flattened data-space coordinates (for low-dimensional data such as 2-D mixtures)"

    def extractor(self, state: dict | None, info: DataInfo, device: str) -> Extractor:
        return batched(lambda x: (x.reshape(len(x), -1),), device)
