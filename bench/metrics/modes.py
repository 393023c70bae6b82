"""Mode coverage as in PacGAN (Lin et al. 2018) and VEEGAN: how many modes are captured, how many
samples are good, how evenly they spread. Two flavours: mixtures with known centres (ring8,
grid25; metric `modes`) and modes a feature space assigns, such as a classifier's predicted digit
(metric `class_modes`)."""

from __future__ import annotations

import math
from numbers import Integral
from typing import Any

import numpy as np
import torch

from bench.data.base import DataInfo, EvalSpec
from bench.metrics.base import METRICS, EvalInputs, Metric, MetricInputError
from bench.metrics.features import FEATURE_SPACES

HQ_THRESHOLD = 3.0  # PacGAN's protocol: high quality within 3 standard deviations of a mode
CHUNK = 8192  # rows per distance block: at most CHUNK x K distances exist at any time


def nearest_centres(
    x: torch.Tensor, centers: torch.Tensor, chunk: int = CHUNK
) -> tuple[torch.Tensor, torch.Tensor]:
    """Distance to, and index of, each row's nearest centre, one (chunk x K) block at a time."""
    dists, idxs = [], []
    for block in torch.split(x, chunk):
        # Exact differences rather than the |a|^2 + |b|^2 - 2ab shortcut, which loses precision
        # for samples sitting on a centre.
        d = torch.cdist(block, centers, compute_mode="donot_use_mm_for_euclid_dist")
        dist, idx = d.min(dim=1)
        dists.append(dist)
        idxs.append(idx)
    return torch.cat(dists), torch.cat(idxs)


def check_inputs(samples: torch.Tensor, centers: torch.Tensor, std: float) -> None:
    if samples.dim() != 2 or len(samples) == 0:
        raise MetricInputError(
            f"modes: samples must be a non-empty (N, d) array, got {samples.shape}"
        )
    if centers.dim() != 2 or len(centers) == 0 or centers.shape[1] != samples.shape[1]:
        raise MetricInputError(
            f"modes: centres {tuple(centers.shape)} do not match samples of width "
            f"{samples.shape[1]}"
        )
    if not (math.isfinite(std) and std > 0):
        raise MetricInputError(f"modes: the mode std must be a positive number, got {std}")
    if not (torch.isfinite(samples).all() and torch.isfinite(centers).all()):
        raise MetricInputError("modes: samples or centres hold NaN or inf")


def reverse_kl_to_uniform(counts: torch.Tensor) -> float:
    """KL(histogram || uniform over K modes) = sum p log(p K); log K (its maximum, that of a total
    collapse) when the histogram is empty."""
    k = len(counts)
    total = counts.sum()
    if total == 0:
        return math.log(k)
    p = counts[counts > 0] / total
    return float((p * torch.log(p * k)).sum())


def high_quality_counts(
    x: torch.Tensor, centers: torch.Tensor, std: float, threshold: float = HQ_THRESHOLD
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per mode, how many samples of `x` are high quality at it (within `threshold * std` of
    their nearest centre), and which samples are high quality."""
    dist, idx = nearest_centres(x, centers)
    good = dist <= threshold * std
    return torch.bincount(idx[good], minlength=len(centers)), good


def mode_coverage(
    samples: torch.Tensor | np.ndarray,
    centers: torch.Tensor | np.ndarray,
    std: float,
    threshold: float = HQ_THRESHOLD,
) -> dict[str, float]:
    """Modes captured, share of high-quality samples, and reverse KL to the uniform mode mix.

    Each sample goes to its nearest centre; it is high quality when within `threshold * std` of
    it. A mode is captured when it receives at least one high-quality sample.

    The reverse-KL histogram counts high-quality samples only, as PacGAN's reference code does
    (fjxmlzn/PacGAN, synthetic_data_experiments/PacGAN/pacgan/extensions.py, MetricLogger: a
    sample adds to `detail_of_coverage` only when its distance to the nearest mode, in stds, is
    below 3; that histogram, normalised, feeds its entropy/JSD). Why: a sample far from every mode
    belongs to none, and counting it would credit a mode it does not represent.

    With no high-quality sample at all the histogram is empty and the KL undefined; we report
    log K, the largest value it can take (a collapse onto one mode), so the result stays finite
    and ranks such a generator last rather than dropping it.
    """
    x = torch.as_tensor(samples).detach().cpu().to(torch.float64)
    c = torch.as_tensor(centers).detach().cpu().to(torch.float64)
    check_inputs(x, c, float(std))
    hits, good = high_quality_counts(x, c, std, threshold)
    counts = hits.to(torch.float64)
    return {
        "modes": float((counts > 0).sum()),
        "high_quality": float(good.sum()) / len(x),
        "reverse_kl": reverse_kl_to_uniform(counts),
    }


@METRICS.register("modes")
class Modes(Metric):
    order = 3
    description = "modes captured, high-quality share and reverse KL on mixtures with known modes"
    directions = {"modes": "max", "high_quality": "max", "reverse_kl": "min"}
    settings = {"hq_threshold_std": HQ_THRESHOLD}

    def applies(self, spec: EvalSpec, info: DataInfo) -> str | None:
        if spec.mode_centers is None or spec.mode_std is None:
            return "needs a dataset with known mode centres such as ring8 or grid25"
        return None

    def compute(self, inputs: EvalInputs, prepared: Any = None) -> dict[str, float]:
        spec = inputs.spec
        assert spec.mode_centers is not None and spec.mode_std is not None  # see applies()
        samples = inputs.samples.reshape(len(inputs.samples), -1)
        return mode_coverage(samples, spec.mode_centers, spec.mode_std)


def class_mode_coverage(mode_ids: torch.Tensor | np.ndarray, num_modes: int) -> dict[str, float]:
    """Modes hit, and reverse KL of the hit histogram to uniform, for samples already assigned to
    one of `num_modes` modes (e.g. a classifier's predicted class, or a digit triple's index).

    Every sample counts: unlike `mode_coverage` there is no distance to judge quality by, so
    a sample's mode is whatever the feature space says. KL as in `reverse_kl_to_uniform`."""
    if isinstance(num_modes, bool) or not isinstance(num_modes, Integral) or num_modes < 1:
        raise MetricInputError(f"class_modes: num_modes must be a positive integer: {num_modes}")
    num_modes = int(num_modes)
    ids = torch.as_tensor(mode_ids).detach().cpu()
    if ids.dim() != 1 or len(ids) == 0:
        raise MetricInputError(
            f"class_modes: mode ids must be a non-empty 1-D array, got shape {tuple(ids.shape)}"
        )
    if ids.is_floating_point():
        if not torch.isfinite(ids).all():
            raise MetricInputError("class_modes: mode ids hold NaN or inf")
        if not torch.equal(ids, ids.round()):
            raise MetricInputError("class_modes: mode ids must be integers")
    elif ids.dtype == torch.bool or ids.is_complex():
        raise MetricInputError(f"class_modes: mode ids must be integers, got {ids.dtype}")
    ids = ids.to(torch.int64)
    if int(ids.min()) < 0 or int(ids.max()) >= num_modes:
        raise MetricInputError(
            f"class_modes: mode ids must lie in [0, {num_modes}), got {int(ids.min())}.."
            f"{int(ids.max())}"
        )
    counts = torch.bincount(ids, minlength=num_modes).to(torch.float64)
    return {"modes": float((counts > 0).sum()), "reverse_kl": reverse_kl_to_uniform(counts)}


@METRICS.register("class_modes")
class ClassModes(Metric):
    order = 4
    description = "classes (modes) the feature space assigns samples to: how many, how evenly"
    directions = {"class_modes": "max", "class_reverse_kl": "min"}
    per_space = True

    def applies(self, spec: EvalSpec, info: DataInfo) -> str | None:
        if spec.num_modes is None:
            return "needs a dataset that declares its number of modes (EvalSpec.num_modes)"
        if not FEATURE_SPACES.get(spec.feature_space).gives_modes:
            return f"needs a feature space that assigns modes, not '{spec.feature_space}'"
        return None

    def compute(self, inputs: EvalInputs, prepared: Any = None) -> dict[str, float]:
        num_modes = inputs.spec.num_modes
        assert num_modes is not None  # see applies()
        if inputs.fake.modes is None:
            raise MetricInputError("class_modes: the feature space gave no modes for the samples")
        out = class_mode_coverage(inputs.fake.modes, num_modes)
        return {"class_modes": out["modes"], "class_reverse_kl": out["reverse_kl"]}
