"""Fidelity metrics computed from features: FID, Inception Score and KID. FID and IS are
torch-fidelity's own functions (0.4.0), called on our feature tensors, so our numbers are
torch-fidelity's numbers; KID evaluates torch-fidelity's estimator on torch-fidelity's subsets
all at once (its own loop spends seconds per call). This module adds input checks and the
adaptations noted per function."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from bench.data.base import DataInfo, EvalSpec
from bench.metrics.base import METRICS, EvalInputs, Metric, MetricInputError
from bench.metrics.features import FEATURE_SPACES

ArrayLike = torch.Tensor | np.ndarray
# torch-fidelity's defaults, recorded in the protocol beside every value.
KID_SUBSETS, KID_SUBSET_SIZE, KID_SEED = 100, 1000, 2020
IS_SPLITS, IS_SEED = 10, 2020
KID_TILE = 2048  # rows and columns of one kernel tile (32 MiB of float64)
MAP_VALUES = 1 << 20  # feature-map values per chunk of rows (8 MiB of float64)


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
    from torch_fidelity.metric_fid import (
        KEY_METRIC_FID,
        fid_features_to_statistics,
        fid_statistics_to_metric,
    )

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
    per_space = True

    def compute(self, inputs: EvalInputs, prepared: Any = None) -> dict[str, float]:
        return {"fid": frechet_distance(inputs.real.features, inputs.fake.features)}


def inception_score(
    logits: ArrayLike, splits: int = IS_SPLITS, shuffle: bool = True, seed: int = IS_SEED
) -> tuple[float, float]:
    """Inception Score exp(E_x KL(p(y|x) || p(y))), mean and std over `splits` equal chunks of
    the (by default shuffled) samples; torch-fidelity's `isc_features_to_metric` on the logits,
    with torch-fidelity's defaults. Needs at least one sample per split."""
    if isinstance(splits, bool) or not isinstance(splits, int) or splits < 1:
        raise MetricInputError(f"is: splits must be a positive integer, got {splits!r}")
    x = as_feature_matrix("is", "logits", logits, min_rows=splits)
    from torch_fidelity.metric_isc import (
        KEY_METRIC_ISC_MEAN,
        KEY_METRIC_ISC_STD,
        isc_features_to_metric,
    )

    out = isc_features_to_metric(x, splits=splits, shuffle=shuffle, rng_seed=seed)
    return out[KEY_METRIC_ISC_MEAN], out[KEY_METRIC_ISC_STD]


def kid(
    real_feats: ArrayLike,
    fake_feats: ArrayLike,
    subsets: int = KID_SUBSETS,
    subset_size: int = KID_SUBSET_SIZE,
    degree: int = 3,
    gamma: float | None = None,
    coef0: float = 1,
    seed: int = KID_SEED,
) -> tuple[float, float]:
    """Kernel Inception Distance: the unbiased MMD² estimate with the polynomial kernel
    (gamma x·y + coef0)^degree, gamma = 1/d by default, mean and std over `subsets` random
    subsets; torch-fidelity's `kid_features_to_metric(real, fake)` with its defaults: the same
    subsets (`kid_subsets`) and the same estimator (`subset_mmd2`), evaluated for all subsets
    at once, so equal to torch-fidelity's values up to float64 round-off (the sums are taken in
    another order: ~1e-15 relative to the kernel's scale).

    Adaptation: torch-fidelity refuses a `subset_size` larger than either set; we clamp it to the
    smaller set's size instead (a trial may evaluate fewer samples than 1000), and agree with
    torch-fidelity whenever its call would be valid. Values slightly below 0 are valid (the
    estimator is unbiased) and are not clamped."""
    if subsets < 1 or subset_size < 2:
        raise MetricInputError(
            f"kid: needs subsets >= 1 and subset_size >= 2, got {subsets} and {subset_size}"
        )
    if gamma is not None and not gamma > 0:
        raise MetricInputError(f"kid: gamma must be positive or None (1/d), got {gamma}")
    real, fake = feature_pair("kid", real_feats, fake_feats)
    size = min(subset_size, len(real), len(fake))
    kernel = PolynomialKernel(degree, 1.0 / real.shape[1] if gamma is None else gamma, coef0)
    rows = kid_subsets(len(real), len(fake), subsets, size, seed)
    mmd2 = subset_mmd2(real, fake, *rows, kernel).numpy()
    return float(np.mean(mmd2)), float(np.std(mmd2))


def kid_subsets(
    n_real: int, n_fake: int, subsets: int, size: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """torch-fidelity's KID subsets, (subsets, size) row indices of each set: a
    `np.random.RandomState(seed)` draws, per subset, the real rows and then the generated rows,
    each with `choice(n, size, replace=False)`."""
    rng = np.random.RandomState(seed)
    draws = [
        (rng.choice(n_real, size, replace=False), rng.choice(n_fake, size, replace=False))
        for _ in range(subsets)
    ]
    real, fake = (torch.from_numpy(np.stack(rows)) for rows in zip(*draws, strict=True))
    return real, fake


@dataclass(frozen=True)
class PolynomialKernel:
    """k(x, y) = (gamma x·y + coef0)^degree."""

    degree: float
    gamma: float
    coef0: float

    def of_products(self, products: torch.Tensor) -> torch.Tensor:
        """The kernel of float64 dot products (CPU), in place, with torch-fidelity's operations:
        numpy's power, so that an integer degree rounds as there."""
        values = products.mul_(self.gamma).add_(self.coef0)
        np.power(values.numpy(), self.degree, out=values.numpy())
        return values

    @property
    def integer_degree(self) -> int | None:
        """The degree when it is a non-negative integer: then the kernel has a feature map."""
        return int(self.degree) if float(self.degree).is_integer() and self.degree >= 0 else None

    def map_weights(self, d: int, p: int) -> torch.Tensor:
        """Weights w of the explicit feature map phi(x) = (x^(⊗0), ..., x^(⊗p)) of the integer
        degree p: k(x, y) = sum(w * phi(x) * phi(y)), by the binomial expansion of
        (gamma x·y + coef0)^p and (x·y)^j = <x^(⊗j), y^(⊗j)>."""
        weight = [math.comb(p, j) * self.coef0 ** (p - j) * self.gamma**j for j in range(p + 1)]
        sizes = torch.tensor([d**j for j in range(p + 1)])
        return torch.tensor(weight, dtype=torch.float64).repeat_interleave(sizes)


Sums = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class KidSets:
    """The two feature sets, (subsets, m) row indices into each, and the kernel: what every
    route of the kernel sums reads."""

    real: torch.Tensor
    fake: torch.Tensor
    real_rows: torch.Tensor
    fake_rows: torch.Tensor
    kernel: PolynomialKernel


def subset_mmd2(
    real: torch.Tensor,
    fake: torch.Tensor,
    real_rows: torch.Tensor,
    fake_rows: torch.Tensor,
    kernel: PolynomialKernel,
) -> torch.Tensor:
    """(subsets,) torch-fidelity's unbiased MMD² of each pair of subsets, (subsets, m) row
    indices: (sum of k over distinct pairs within real + within fake) / (m (m-1)) - 2 (sum of k
    over real x generated pairs) / m^2, as its `mmd2` rounds it."""
    m = real_rows.shape[1]
    diag_real = kernel.of_products(squared_norms(real))[real_rows].sum(dim=1)
    diag_fake = kernel.of_products(squared_norms(fake))[fake_rows].sum(dim=1)
    k_rr, k_ff, k_rf = _kernel_sums(KidSets(real, fake, real_rows, fake_rows, kernel))
    within = (k_rr - diag_real) + (k_ff - diag_fake)
    return within / (m * (m - 1)) - 2 * k_rf / (m * m)


def _kernel_sums(sets: KidSets) -> Sums:
    """Per subset, the kernel summed over all real x real, generated x generated and real x
    generated pairs (diagonals included), by whichever exact route takes the fewest
    multiply-adds: the explicit feature map (low-dimensional features: the kernel never
    formed), Gram tiles weighted by subset indicators (every pair of rows once, however many
    subsets hold it: sets up to ~10 subset sizes), or each subset's own blocks (larger sets)."""
    (subsets, m), (n_r, d), n_f = sets.real_rows.shape, sets.real.shape, len(sets.fake)
    routes = {
        _sums_by_gram: ((n_r * n_r + n_f * n_f) / 2 + n_r * n_f) * (d + subsets),
        _sums_by_subset: subsets * 2.5 * m * m * d,  # symmetric blocks cost 3/4
    }
    p = sets.kernel.integer_degree
    if p is not None:
        routes[_sums_by_feature_map] = (n_r + n_f) * _map_columns(d, p) * (subsets + 1)
    route = min(routes, key=routes.__getitem__)
    return route(sets)


def squared_norms(x: torch.Tensor) -> torch.Tensor:
    return torch.linalg.vecdot(x, x)


def _indicators(rows: torch.Tensor, n: int) -> torch.Tensor:
    """(subsets, n) float64: 1 where a subset holds the row."""
    return torch.zeros(len(rows), n, dtype=torch.float64).scatter_(1, rows, 1.0)


def _map_columns(d: int, p: int) -> int:
    return sum(d**j for j in range(p + 1))


def _feature_map(x: torch.Tensor, p: int) -> torch.Tensor:
    """(N, 1 + d + ... + d^p): each row's tensor powers x^(⊗j), j = 0..p, flattened."""
    power = torch.ones(len(x), 1, dtype=x.dtype)
    powers = [power]
    for _ in range(p):
        power = (power[:, :, None] * x[:, None, :]).reshape(len(x), -1)
        powers.append(power)
    return torch.cat(powers, dim=1)


def _mapped_sums(x: torch.Tensor, rows: torch.Tensor, p: int) -> torch.Tensor:
    """(subsets, columns): the feature map summed over each subset, in chunks of rows."""
    columns = _map_columns(x.shape[1], p)
    step = max(1, MAP_VALUES // columns)
    pick = _indicators(rows, len(x))
    sums = torch.zeros(len(rows), columns, dtype=torch.float64)
    for lo in range(0, len(x), step):
        sums.addmm_(pick[:, lo : lo + step], _feature_map(x[lo : lo + step], p))
    return sums


def _sums_by_feature_map(sets: KidSets) -> Sums:
    p = sets.kernel.integer_degree
    assert p is not None  # chosen only for integer degrees
    w = sets.kernel.map_weights(sets.real.shape[1], p)
    r, f = _mapped_sums(sets.real, sets.real_rows, p), _mapped_sums(sets.fake, sets.fake_rows, p)
    return (
        torch.linalg.vecdot(r * w, r),
        torch.linalg.vecdot(f * w, f),
        torch.linalg.vecdot(r * w, f),
    )


def _sums_by_gram(sets: KidSets) -> Sums:
    real, fake, kernel = sets.real, sets.fake, sets.kernel
    pick_r, pick_f = _indicators(sets.real_rows, len(real)), _indicators(sets.fake_rows, len(fake))
    return (
        _gram_sums(real, real, pick_r, pick_r, kernel),
        _gram_sums(fake, fake, pick_f, pick_f, kernel),
        _gram_sums(real, fake, pick_r, pick_f, kernel),
    )


def _gram_sums(
    x: torch.Tensor,
    y: torch.Tensor,
    pick_x: torch.Tensor,
    pick_y: torch.Tensor,
    kernel: PolynomialKernel,
) -> torch.Tensor:
    """(subsets,) sum over i, j of pick_x[s, i] k(x_i, y_j) pick_y[s, j], one kernel tile at a
    time; when y is x, only tiles on or above the diagonal (those above count twice)."""
    symmetric = y is x
    sums = torch.zeros(len(pick_x), dtype=torch.float64)
    buffer = torch.empty(min(KID_TILE, len(x)) * min(KID_TILE, len(y)), dtype=torch.float64)
    for a0 in range(0, len(x), KID_TILE):
        a1 = min(a0 + KID_TILE, len(x))
        for b0 in range(a0 if symmetric else 0, len(y), KID_TILE):
            b1 = min(b0 + KID_TILE, len(y))
            tile = buffer[: (a1 - a0) * (b1 - b0)].view(a1 - a0, b1 - b0)
            k = kernel.of_products(torch.mm(x[a0:a1], y[b0:b1].T, out=tile))
            part = torch.linalg.vecdot(pick_x[:, a0:a1] @ k, pick_y[:, b0:b1])
            sums += part if not symmetric or a0 == b0 else 2 * part
    return sums


def _sums_by_subset(sets: KidSets) -> Sums:
    kernel = sets.kernel
    sums = torch.empty(3, len(sets.real_rows), dtype=torch.float64)
    for s, (rr, ff) in enumerate(zip(sets.real_rows, sets.fake_rows, strict=True)):
        a, b = sets.real[rr], sets.fake[ff]
        sums[0, s] = _symmetric_block_sum(a, kernel)
        sums[1, s] = _symmetric_block_sum(b, kernel)
        sums[2, s] = _block_sum(a, b, kernel)
    return sums[0], sums[1], sums[2]


def _block_sum(x: torch.Tensor, y: torch.Tensor, kernel: PolynomialKernel) -> float:
    """The kernel summed over all pairs of x × y."""
    return float(kernel.of_products(x @ y.T).sum())


def _symmetric_block_sum(x: torch.Tensor, kernel: PolynomialKernel) -> float:
    """The kernel summed over x × x from three quarter blocks (x1 x1, x1 x2 twice, x2 x2): a
    quarter fewer products than the full block."""
    x1, x2 = x[: len(x) // 2], x[len(x) // 2 :]
    return _block_sum(x1, x1, kernel) + 2 * _block_sum(x1, x2, kernel) + _block_sum(x2, x2, kernel)


@METRICS.register("is")
class InceptionScore(Metric):
    order = 2
    description = "Inception Score of generated samples from the feature space's class logits"
    directions = {"is": "max", "is_std": "min"}
    per_space = True
    settings = {"splits": IS_SPLITS, "shuffle_seed": IS_SEED}
    reference_free = True

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
    per_space = True
    settings = {
        "subsets": KID_SUBSETS,
        "subset_size": KID_SUBSET_SIZE,
        "kernel": "polynomial, degree 3, gamma 1/d, coef 1",
        "seed": KID_SEED,
    }

    def compute(self, inputs: EvalInputs, prepared: Any = None) -> dict[str, float]:
        mean, std = kid(inputs.real.features, inputs.fake.features)
        return {"kid": mean, "kid_std": std}
