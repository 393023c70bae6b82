"""Mode coverage on mixtures with known centres (ring8, grid25), as in PacGAN (Lin et al. 2018)
and VEEGAN: how many modes are captured, how many samples are good, how evenly they spread."""

from __future__ import annotations

import math

import numpy as np
import torch

from bench.data.base import DataInfo, EvalSpec
from bench.metrics.base import METRICS, EvalInputs, Metric, MetricInputError

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


def mode_coverage(
    samples: torch.Tensor | np.ndarray,
    centers: torch.Tensor | np.ndarray,
    std: float,
    threshold: float = 3.0,
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
    dist, idx = nearest_centres(x, c)
    good = dist <= threshold * std
    counts = torch.bincount(idx[good], minlength=len(c)).to(torch.float64)
    return {
        "modes": float((counts > 0).sum()),
        "high_quality": float(good.sum()) / len(x),
        "reverse_kl": reverse_kl_to_uniform(counts),
    }


class Modes(Metric):
    description = "modes captured, high-quality share and reverse KL on mixtures with known modes"
    directions = {"modes": "max", "high_quality": "max", "reverse_kl": "min"}

    def applies(self, spec: EvalSpec, info: DataInfo) -> str | None:
        if spec.mode_centers is None or spec.mode_std is None:
            return "needs a dataset with known mode centres such as ring8 or grid25"
        return None

    def compute(self, inputs: EvalInputs) -> dict[str, float]:
        spec = inputs.spec
        assert spec.mode_centers is not None and spec.mode_std is not None  # see applies()
        samples = inputs.samples.reshape(len(inputs.samples), -1)
        return mode_coverage(samples, spec.mode_centers, spec.mode_std)


METRICS.add("modes", Modes())
