"""Fidelity metrics computed from features: FID, Inception Score and KID. The maths is
torch-fidelity's own functions (0.4.0), called on our feature tensors, so our numbers are
torch-fidelity's numbers; this module adds input checks and the adaptations noted per function."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch_fidelity.metric_fid import (
    KEY_METRIC_FID,
    fid_features_to_statistics,
    fid_statistics_to_metric,
)
from torch_fidelity.metric_isc import (
    KEY_METRIC_ISC_MEAN,
    KEY_METRIC_ISC_STD,
    isc_features_to_metric,
)
from torch_fidelity.metric_kid import (
    KEY_METRIC_KID_MEAN,
    KEY_METRIC_KID_STD,
    kid_features_to_metric,
)

from bench.data.base import DataInfo, EvalSpec
from bench.metrics.base import METRICS, EvalInputs, Metric, MetricInputError
from bench.metrics.features import FEATURE_SPACES

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


def feature_pair(
    name: str, real_feats: ArrayLike, fake_feats: ArrayLike, min_rows: int = 2
) -> tuple[torch.Tensor, torch.Tensor]:
    """Both feature sets checked by `as_feature_matrix`, and of the same width."""
    real = as_feature_matrix(name, "real", real_feats, min_rows)
    fake = as_feature_matrix(name, "generated", fake_feats, min_rows)
    if real.shape[1] != fake.shape[1]:
        raise MetricInputError(
            f"{name}: real and generated features differ in width "
            f"({real.shape[1]} vs {fake.shape[1]})"
        )
    return real, fake


def frechet_distance(real_feats: ArrayLike, fake_feats: ArrayLike) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (float64).

    Round-off can push the value of two near-identical sets a hair below zero; it is clamped at
    0, the distance's true lower bound."""
    real, fake = feature_pair("fid", real_feats, fake_feats)
    stats = [fid_features_to_statistics(t) for t in (real, fake)]
    value = fid_statistics_to_metric(*stats, verbose=False)[KEY_METRIC_FID]
    return max(float(value), 0.0)


@METRICS.register("fid")
class Fid(Metric):
    order = 0
    description = (
        "Fréchet distance between real and generated samples in the dataset's feature space"
    )
    directions = {"fid": "min"}

    def compute(self, inputs: EvalInputs, prepared: Any = None) -> dict[str, float]:
        return {"fid": frechet_distance(inputs.real.features, inputs.fake.features)}


def inception_score(
    logits: ArrayLike, splits: int = 10, shuffle: bool = True, seed: int = 2020
) -> tuple[float, float]:
    """Inception Score exp(E_x KL(p(y|x) || p(y))), mean and std over `splits` equal chunks of
    the (by default shuffled) samples; torch-fidelity's `isc_features_to_metric` on the logits,
    with torch-fidelity's defaults. Needs at least one sample per split."""
    if isinstance(splits, bool) or not isinstance(splits, int) or splits < 1:
        raise MetricInputError(f"is: splits must be a positive integer, got {splits!r}")
    x = as_feature_matrix("is", "logits", logits, min_rows=splits)
    out = isc_features_to_metric(x, splits=splits, shuffle=shuffle, rng_seed=seed)
    return out[KEY_METRIC_ISC_MEAN], out[KEY_METRIC_ISC_STD]


def kid(
    real_feats: ArrayLike,
    fake_feats: ArrayLike,
    subsets: int = 100,
    subset_size: int = 1000,
    degree: int = 3,
    gamma: float | None = None,
    coef0: float = 1,
    seed: int = 2020,
) -> tuple[float, float]:
    """Kernel Inception Distance: the unbiased MMD² estimate with the polynomial kernel
    (gamma x·y + coef0)^degree, gamma = 1/d by default, mean and std over `subsets` random
    subsets; torch-fidelity's `kid_features_to_metric(real, fake)` with its defaults.

    Adaptation: torch-fidelity refuses a `subset_size` larger than either set; we clamp it to the
    smaller set's size instead (a trial may evaluate fewer samples than 1000), and agree with
    torch-fidelity exactly whenever its call would be valid. Values slightly below 0 are valid
    (the estimator is unbiased) and are not clamped."""
    if subsets < 1 or subset_size < 2:
        raise MetricInputError(
            f"kid: needs subsets >= 1 and subset_size >= 2, got {subsets} and {subset_size}"
        )
    if gamma is not None and not gamma > 0:
        raise MetricInputError(f"kid: gamma must be positive or None (1/d), got {gamma}")
    real, fake = feature_pair("kid", real_feats, fake_feats)
    out = kid_features_to_metric(
        real,
        fake,
        kid_subsets=subsets,
        kid_subset_size=min(subset_size, len(real), len(fake)),
        kid_kernel="poly",
        kid_kernel_poly_degree=degree,
        kid_kernel_poly_gamma=gamma,
        kid_kernel_poly_coef0=coef0,
        rng_seed=seed,
        verbose=False,
    )
    return out[KEY_METRIC_KID_MEAN], out[KEY_METRIC_KID_STD]


@METRICS.register("is")
class InceptionScore(Metric):
    order = 2
    description = "Inception Score of generated samples from the feature space's class logits"
    directions = {"is": "max", "is_std": "min"}

    def applies(self, spec: EvalSpec, info: DataInfo) -> str | None:
        if not FEATURE_SPACES.get(spec.feature_space).gives_logits:
            return f"needs a feature space with class logits, not '{spec.feature_space}'"
        return None

    def compute(self, inputs: EvalInputs, prepared: Any = None) -> dict[str, float]:
        if inputs.fake.logits is None:
            raise MetricInputError("is: the feature space gave no logits for the samples")
        mean, std = inception_score(inputs.fake.logits)
        return {"is": mean, "is_std": std}


@METRICS.register("kid")
class Kid(Metric):
    order = 1
    description = "Kernel Inception Distance (unbiased polynomial-kernel MMD²) in the feature space"
    directions = {"kid": "min", "kid_std": "min"}

    def compute(self, inputs: EvalInputs, prepared: Any = None) -> dict[str, float]:
        mean, std = kid(inputs.real.features, inputs.fake.features)
        return {"kid": mean, "kid_std": std}
