"""Disentanglement: how well a model's codes line up with a dataset's known factors of variation
(procedural data such as `shapes`). Three standard scores, as pure functions of
(codes, factors, factor_sizes):

- codes: (N, L) float, the posterior means (or deterministic codes) of N data points;
- factors: (N, K) int, the true factor indices of the same points;
- factor_sizes: (K,) the number of values of each factor (indices lie in [0, size)).

A factor that takes a single value among the N points carries nothing to recover (and MIG would
divide by its zero entropy): every score drops it, and needs at least one factor that varies.
The registered metric reads both arrays from the probes the evaluator measured with the model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from bench.data.base import DataInfo, EvalSpec
from bench.metrics.base import METRICS, EvalInputs, Metric, MetricInputError

if TYPE_CHECKING:
    from bench.models.base import GenerativeModel

Array = np.ndarray | torch.Tensor

MIN_POINTS = 20  # fewer points say nothing about a factor's spread
MIG_BINS = 20  # equal-width bins per code dimension, as disentanglement_lib
FACTOR_VAE_TRAIN = 800  # votes that fit the majority-vote classifier
FACTOR_VAE_EVAL = 800  # votes it is scored on
FACTOR_VAE_BATCH = 64  # points sharing one fixed factor value, per vote
COLLAPSED_STD = 0.05  # code dimensions whose std over the data is below this are pruned
DCI_POINTS = 5000  # points the DCI forests see at most (a seeded random subset)
DCI_TEST_FRACTION = 0.2  # share of those held out to measure informativeness
DCI_TREES = 20
DCI_DEPTH = 8
SEED = 0  # every random draw (vote batches, DCI subset and forests) is seeded: scores repeat


def checked(codes: Array, factors: Array, factor_sizes: Any) -> tuple[np.ndarray, np.ndarray]:
    """(codes float64 (N, L), factors int64 (N, K')) with the constant factors dropped, or a
    MetricInputError naming what is wrong with the inputs."""
    c = np.asarray(codes.detach().cpu() if isinstance(codes, torch.Tensor) else codes, float)
    f = np.asarray(factors.detach().cpu() if isinstance(factors, torch.Tensor) else factors)
    if c.ndim != 2 or f.ndim != 2 or len(c) != len(f):
        raise MetricInputError(
            f"disentanglement: need codes (N, L) and factors (N, K) of the same N, got "
            f"{c.shape} and {f.shape}"
        )
    if factor_sizes is None or len(factor_sizes) != f.shape[1]:
        raise MetricInputError(
            f"disentanglement: need one size per factor column ({f.shape[1]}), got {factor_sizes}"
        )
    if len(c) < MIN_POINTS or c.shape[1] == 0:
        raise MetricInputError(
            f"disentanglement: need at least {MIN_POINTS} points and one code dimension, got "
            f"{c.shape}"
        )
    if not np.isfinite(c).all():
        raise MetricInputError("disentanglement: the codes contain NaN or inf")
    sizes = np.asarray(factor_sizes)
    if not np.issubdtype(f.dtype, np.integer) or (f < 0).any() or (f >= sizes).any():
        raise MetricInputError(
            f"disentanglement: factors must be integer indices below their sizes {tuple(sizes)}"
        )
    varying = [k for k in range(f.shape[1]) if len(np.unique(f[:, k])) > 1]
    if not varying:
        raise MetricInputError("disentanglement: no factor varies over the given points")
    return c, f[:, varying].astype(np.int64)


# ---------------------------------------------------------------- MIG


def discretise(codes: np.ndarray, bins: int) -> np.ndarray:
    """(N, L) bin indices: each dimension cut into `bins` equal-width bins between its minimum and
    maximum (as disentanglement_lib's histogram discretiser); a constant dimension is one bin."""
    low, high = codes.min(0), codes.max(0)
    width = np.where(high > low, high - low, 1.0)
    return np.clip(((codes - low) / width * bins).astype(np.int64), 0, bins - 1)


def mutual_information(a: np.ndarray, b: np.ndarray) -> float:
    """I(a; b) in nats of two integer sequences, from their empirical joint distribution."""
    nb = int(b.max()) + 1
    joint = np.bincount(a * nb + b).astype(float)
    joint = np.pad(joint, (0, (int(a.max()) + 1) * nb - len(joint))).reshape(-1, nb) / len(a)
    outer = joint.sum(1, keepdims=True) * joint.sum(0, keepdims=True)
    seen = joint > 0
    return float((joint[seen] * np.log(joint[seen] / outer[seen])).sum())


def entropy(a: np.ndarray) -> float:
    """H(a) in nats of an integer sequence."""
    p = np.bincount(a) / len(a)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def mig(codes: Array, factors: Array, factor_sizes: Any, bins: int = MIG_BINS) -> float:
    """Mutual Information Gap (Chen et al. 2018): for each factor, the gap between the two code
    dimensions sharing most mutual information with it, over the factor's entropy; the mean over
    factors. Codes are discretised into `bins` (20) equal-width bins per dimension, as
    disentanglement_lib does; with a single code dimension the runner-up's information is 0.
    In [0, 1]: 1 when each factor is captured by exactly one dimension and no other."""
    c, f = checked(codes, factors, factor_sizes)
    binned = discretise(c, bins)
    gaps = []
    for k in range(f.shape[1]):
        info = sorted(mutual_information(binned[:, i], f[:, k]) for i in range(c.shape[1]))
        runner_up = info[-2] if len(info) > 1 else 0.0
        gaps.append((info[-1] - runner_up) / entropy(f[:, k]))
    return float(np.mean(gaps))


# ---------------------------------------------------------------- FactorVAE score


def rows_by_value(factors: np.ndarray) -> list[dict[int, np.ndarray]]:
    """For each factor, the row indices holding each of its values."""
    return [
        {int(v): np.flatnonzero(column == v) for v in np.unique(column)} for column in factors.T
    ]


def votes(
    scaled: np.ndarray,
    factors: np.ndarray,
    groups: list[dict[int, np.ndarray]],
    n: int,
    batch: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """(L, K) vote counts: n times, fix a factor (uniformly) at the value of a random point, draw
    `batch` points sharing that value (without replacement when there are enough), and let the
    code dimension of least variance over them vote for the factor."""
    counts = np.zeros((scaled.shape[1], factors.shape[1]), dtype=np.int64)
    for _ in range(n):
        k = int(rng.integers(factors.shape[1]))
        rows = groups[k][int(factors[rng.integers(len(factors)), k])]
        pick = rng.choice(rows, size=batch, replace=len(rows) < batch)
        counts[int(np.argmin(scaled[pick].var(0, ddof=1))), k] += 1
    return counts


def factor_vae_score(
    codes: Array,
    factors: Array,
    factor_sizes: Any,
    *,
    n_train: int = FACTOR_VAE_TRAIN,
    n_eval: int = FACTOR_VAE_EVAL,
    batch: int = FACTOR_VAE_BATCH,
    threshold: float = COLLAPSED_STD,
    seed: int = SEED,
) -> float:
    """FactorVAE score (Kim & Mnih 2018): accuracy of a majority-vote classifier that names the
    fixed factor of a batch from the code dimension varying least over it.

    Each dimension is divided by its std over all N points (so variances compare across
    dimensions); dimensions with std < `threshold` (0.05, as the paper's implementations) count as
    collapsed and are pruned, and with none left the score is 0. `n_train` (800) votes of `batch`
    (64) points each fit the classifier (each dimension predicts the factor it voted for most);
    its accuracy on `n_eval` (800) fresh votes is the score. The points sharing a factor value are
    drawn from the given rows by a numpy Generator seeded with `seed`. Chance is about 1/K."""
    c, f = checked(codes, factors, factor_sizes)
    std = c.std(0, ddof=1)
    active = std >= threshold
    if not active.any():
        return 0.0
    scaled = c[:, active] / std[active]
    rng = np.random.default_rng(seed)
    groups = rows_by_value(f)
    train = votes(scaled, f, groups, n_train, batch, rng)
    held = votes(scaled, f, groups, n_eval, batch, rng)
    classifier = train.argmax(1)  # each code dimension's majority factor
    return float(held[np.arange(len(held)), classifier].sum() / n_eval)


# ---------------------------------------------------------------- DCI


def normalised_entropy(p: np.ndarray, axis: int) -> np.ndarray:
    """Entropy along `axis` of distributions `p` in base `p.shape[axis]` (so in [0, 1]); 0 when
    there is a single outcome."""
    size = p.shape[axis]
    if size == 1:
        return np.zeros(p.shape[1 - axis])
    logs = np.log(np.where(p > 0, p, 1.0))
    return -(p * logs).sum(axis) / np.log(size)


def weighted_specificity(importance: np.ndarray, axis: int) -> float:
    """1 - normalised entropy of each row (axis=1) or column (axis=0) of the importance matrix,
    each renormalised to a distribution, averaged with weights proportional to its total
    importance (Eastwood & Williams 2018). 0 when nothing carries importance."""
    total = importance.sum()
    if total <= 0:
        return 0.0
    mass = importance.sum(axis)
    keep = np.expand_dims(mass, axis)
    p = importance / np.where(keep > 0, keep, 1.0)
    return float(((1.0 - normalised_entropy(p, axis)) * mass / total).sum())


def importance_matrix(
    codes: np.ndarray, factors: np.ndarray, seed: int
) -> tuple[np.ndarray, list[float]]:
    """(L, K) importance of each code dimension for each factor, and the test accuracy of each
    factor's classifier: a random forest per factor on a seeded subset (see `dci`)."""
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(seed)
    order = rng.permutation(len(codes))[:DCI_POINTS]
    n_test = max(1, round(len(order) * DCI_TEST_FRACTION))
    test, train = order[:n_test], order[n_test:]
    importance, accuracy = np.zeros((codes.shape[1], factors.shape[1])), []
    for k in range(factors.shape[1]):
        forest = RandomForestClassifier(
            n_estimators=DCI_TREES, max_depth=DCI_DEPTH, max_features=None, random_state=seed
        )
        forest.fit(codes[train], factors[train, k])
        importance[:, k] = forest.feature_importances_
        accuracy.append(float(forest.score(codes[test], factors[test, k])))
    return importance, accuracy


def dci(codes: Array, factors: Array, factor_sizes: Any, *, seed: int = SEED) -> dict[str, float]:
    """DCI (Eastwood & Williams 2018) from an importance matrix R (L x K): one classifier per factor
    predicts it from all code dimensions, and R[i, k] is the importance of dimension i for factor k.

    disentanglement: per dimension, 1 - entropy (base K) of its row of R normalised to sum to 1,
    weighted by the dimension's share of the total importance; completeness: the same over the
    columns (per factor, base L); informativeness: the classifiers' mean test accuracy.

    Classifier: scikit-learn's RandomForestClassifier, 20 trees of depth <= 8 that consider every
    code dimension at each split (max_features=None, so importance goes to the most informative
    dimension rather than to whichever random subset a split drew), random_state=`seed`, with its
    impurity-based feature_importances_. disentanglement_lib uses scikit-learn's default
    gradient-boosted trees, over ten times slower here (25 s against 2 s on 5,000 points).
    Data: up to 5,000 points, a seeded random subset, 80 % to fit and 20 % to measure accuracy."""
    c, f = checked(codes, factors, factor_sizes)
    importance, accuracy = importance_matrix(c, f, seed)
    return {
        "dci_disentanglement": weighted_specificity(importance, axis=1),
        "dci_completeness": weighted_specificity(importance, axis=0),
        "dci_informativeness": float(np.mean(accuracy)),
    }


def disentanglement_scores(codes: Array, factors: Array, factor_sizes: Any) -> dict[str, float]:
    """MIG, the FactorVAE score and DCI with their stated defaults."""
    return {
        "mig": mig(codes, factors, factor_sizes),
        "factor_vae": factor_vae_score(codes, factors, factor_sizes),
        **dci(codes, factors, factor_sizes),
    }


def probe(inputs: EvalInputs, name: str) -> torch.Tensor:
    if name not in inputs.probes:
        raise MetricInputError(
            f"disentanglement: needs the probe '{name}' (the held-out split's posterior means "
            "and factor indices, measured by the evaluator), and the inputs have "
            f"{sorted(inputs.probes) or 'no probes'}"
        )
    return inputs.probes[name]


@METRICS.register("disentanglement")
class Disentanglement(Metric):
    order = 14
    description = (
        "codes (posterior means) of the held-out split against the dataset's known factors: MIG "
        "(20 bins), FactorVAE score (800+800 votes of 64), DCI (random forests)"
    )
    directions = {
        "mig": "max",
        "factor_vae": "max",
        "dci_disentanglement": "max",
        "dci_completeness": "max",
        "dci_informativeness": "max",
    }
    probes = ("codes", "factors")

    def applies(self, spec: EvalSpec, info: DataInfo) -> str | None:
        if info.factor_names is None:
            return (
                "disentanglement needs a dataset with known factors of variation "
                "(DataInfo.factor_names), such as 'shapes'"
            )
        return None

    def applies_to_model(self, model: type[GenerativeModel]) -> str | None:
        if callable(getattr(model, "encode", None)):
            return None
        name = model.__name__
        return f"disentanglement needs a model with an encoder (`encode`), and {name} has none"

    def compute(self, inputs: EvalInputs, prepared: Any = None) -> dict[str, float]:
        codes, factors = probe(inputs, "codes"), probe(inputs, "factors")
        return disentanglement_scores(codes, factors, inputs.info.factor_sizes)
