"""Fidelity metrics computed from features. The statistics and the Fréchet distance come from
torch-fidelity's own functions, so our numbers are torch-fidelity's numbers."""

from __future__ import annotations

import numpy as np
import torch
from torch_fidelity.metric_fid import (
    KEY_METRIC_FID,
    fid_features_to_statistics,
    fid_statistics_to_metric,
)

from bench.metrics.base import METRICS, EvalInputs, Metric, MetricInputError

ArrayLike = torch.Tensor | np.ndarray


def as_feature_matrix(name: str, which: str, x: ArrayLike, min_rows: int = 2) -> torch.Tensor:
    """`x` as a finite float64 (N, d) CPU tensor, or a MetricInputError naming metric and input."""
    t = torch.as_tensor(x).detach().cpu().to(torch.float64)
    if t.dim() != 2:
        raise MetricInputError(f"{name}: {which} features must be 2-D (N, d), got {tuple(t.shape)}")
    if len(t) < min_rows:
        raise MetricInputError(f"{name}: {which} features need >= {min_rows} rows, got {len(t)}")
    if not torch.isfinite(t).all():
        bad = int((~torch.isfinite(t)).any(dim=1).sum())
        raise MetricInputError(f"{name}: {which} features hold NaN or inf in {bad} rows")
    return t


def frechet_distance(real_feats: ArrayLike, fake_feats: ArrayLike) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (float64).

    Round-off can push the value of two near-identical sets a hair below zero; it is clamped at
    0, the distance's true lower bound."""
    real = as_feature_matrix("fid", "real", real_feats)
    fake = as_feature_matrix("fid", "generated", fake_feats)
    if real.shape[1] != fake.shape[1]:
        raise MetricInputError(
            f"fid: real and generated features differ in width ({real.shape[1]} vs {fake.shape[1]})"
        )
    stats = [fid_features_to_statistics(t) for t in (real, fake)]
    value = fid_statistics_to_metric(*stats, verbose=False)[KEY_METRIC_FID]
    return max(float(value), 0.0)


class Fid(Metric):
    description = (
        "Fréchet distance between real and generated samples in the dataset's feature space"
    )
    directions = {"fid": "min"}

    def compute(self, inputs: EvalInputs) -> dict[str, float]:
        return {"fid": frechet_distance(inputs.real.features, inputs.fake.features)}


METRICS.add("fid", Fid())
