"""The Vendi score (Friedman & Dieng 2023): a diversity measure that needs no reference set and
no known modes. With the cosine kernel on L2-normalised features (the paper's default for
embeddings), K = X Xᵀ, and the score is exp of the Shannon entropy of the eigenvalues of K/n:
1 for n identical samples, n for n mutually orthogonal ones, "the effective number of distinct
samples". K/n and XᵀX/n share their non-zero eigenvalues, so the smaller matrix is decomposed.

The score counts distinct samples at the kernel's resolution, so on the 2-D mixtures (points,
where a cosine kernel is rank 2) the Gaussian kernel's bandwidth decides what it counts. At the
components' std s itself, two samples of one component have a mean similarity of only e^-2, so
every component counts as hundreds of samples (the real ring8 scored about 1,200 of 2,000) and a
blurrier generator scores higher. At 10 s, samples of one component are near-identical (mean
similarity e^-0.02 ≈ 0.98) while neighbouring components stay orthogonal (ring8's are 77 std
apart, grid25's 40), so the score is the effective number of modes covered: the real sets score
close to 8 and 25, a generator collapsed onto two modes close to 2."""

from __future__ import annotations

from typing import Any

import torch

from bench.metrics.base import METRICS, EvalInputs, Metric, MetricInputError
from bench.metrics.fidelity import ArrayLike, as_feature_matrix

BANDWIDTH_STDS = 10.0  # the Gaussian kernel's bandwidth on mixtures, in component stds


def vendi_score(features: ArrayLike, bandwidth: float | None = None) -> float:
    """exp(-Σ λ log λ) over the eigenvalues λ of K/n (float64): K the cosine kernel of the rows,
    or with `bandwidth` σ the Gaussian kernel exp(-‖x - y‖² / (2σ²)) of the coordinates."""
    x = as_feature_matrix("vendi", "generated", features, min_rows=1)
    if bandwidth is None:
        norms = x.norm(dim=1, keepdim=True)
        if (norms == 0).any():
            raise MetricInputError("vendi: a zero feature vector has no direction (cosine kernel)")
        x = x / norms
        gram = x @ x.T if len(x) <= x.shape[1] else x.T @ x  # same non-zero eigenvalues
    else:
        gram = torch.exp(-torch.cdist(x, x).square() / (2 * bandwidth**2))
    eigenvalues = torch.linalg.eigvalsh(gram / len(x)).clamp(min=0)
    positive = eigenvalues[eigenvalues > 0]
    return float(torch.exp(-(positive * positive.log()).sum()))


@METRICS.register("vendi")
class Vendi(Metric):
    order = 8
    description = (
        "Vendi score: exp of the entropy of the eigenvalues of K/n, the effective number of "
        "distinct samples; cosine kernel on normalised features, or on mixtures the Gaussian "
        f"kernel at {BANDWIDTH_STDS:g}x the components' std, which counts modes (vendi_real: "
        "the reference set's score)"
    )
    directions = {"vendi": "max", "vendi_real": "max"}
    per_space = True
    by_default = False  # measured when a suite lists it
    settings = {
        "kernel": "cosine on L2-normalised features; on datasets that declare their mixture "
        f"components' std s (EvalSpec.mode_std), exp(-|x - y|^2 / (2 ({BANDWIDTH_STDS:g} s)^2)) "
        "on the coordinates (a cosine kernel of 2-D points is rank 2, so it could never count 8 "
        "modes; at s itself every component counts as hundreds of samples)",
        "q": 1,
    }

    def prepare(self, reference: Any) -> dict[str, Any]:
        """The reference set's score is computed once per kernel and kept here."""
        return {"reference": reference.features, "scores": {}}

    def compute(self, inputs: EvalInputs, prepared: Any = None) -> dict[str, float]:
        std = inputs.spec.mode_std if inputs.spec is not None else None
        bandwidth = None if std is None else BANDWIDTH_STDS * std
        memo = prepared or self.prepare(inputs.real)
        if bandwidth not in memo["scores"]:
            memo["scores"][bandwidth] = vendi_score(memo["reference"], bandwidth)
        fake = vendi_score(inputs.fake.features, bandwidth)
        return {"vendi": fake, "vendi_real": memo["scores"][bandwidth]}
