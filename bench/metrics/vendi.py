"""The Vendi score (Friedman & Dieng 2023): a diversity measure that needs no reference set and
no known modes. With the cosine kernel on L2-normalised features (the paper's default for
embeddings), K = X Xᵀ, and the score is exp of the Shannon entropy of the eigenvalues of K/n:
1 for n identical samples, n for n mutually orthogonal ones, "the effective number of distinct
samples". K/n and XᵀX/n share their non-zero eigenvalues, so the smaller matrix is decomposed."""

from __future__ import annotations

from typing import Any

import torch

from bench.metrics.base import METRICS, EvalInputs, Metric, MetricInputError
from bench.metrics.fidelity import ArrayLike, as_feature_matrix


def vendi_score(features: ArrayLike) -> float:
    """exp(-Σ λ log λ) over the eigenvalues λ of K/n, K the cosine kernel of the rows (float64)."""
    x = as_feature_matrix("vendi", "generated", features, min_rows=1)
    norms = x.norm(dim=1, keepdim=True)
    if (norms == 0).any():
        raise MetricInputError("vendi: a zero feature vector has no direction (cosine kernel)")
    x = x / norms
    n = len(x)
    gram = x @ x.T if n <= x.shape[1] else x.T @ x
    eigenvalues = torch.linalg.eigvalsh(gram / n).clamp(min=0)
    positive = eigenvalues[eigenvalues > 0]
    return float(torch.exp(-(positive * positive.log()).sum()))


@METRICS.register("vendi")
class Vendi(Metric):
    order = 8
    description = (
        "Vendi score: exp of the entropy of the eigenvalues of K/n, cosine kernel on normalised "
        "features; effective number of distinct samples (vendi_real: the reference set's)"
    )
    directions = {"vendi": "max", "vendi_real": "max"}
    by_default = False  # measured when a suite lists it
    settings = {"kernel": "cosine on L2-normalised features", "q": 1}

    def prepare(self, reference: Any) -> float | None:
        """The reference set's own score, the value a generator that matches it would reach."""
        try:
            return vendi_score(reference.features)
        except MetricInputError:
            return None

    def compute(self, inputs: EvalInputs, prepared: Any = None) -> dict[str, float]:
        real = prepared if prepared is not None else vendi_score(inputs.real.features)
        return {"vendi": vendi_score(inputs.fake.features), "vendi_real": real}
