"""Do two metrics rank a dataset's models the same way? Per dataset of a Leaderboard, the rank
correlation (Spearman's rho, Kendall's tau) between the rows' means of two keys, each turned by
its direction (bench.direction) so that for both a smaller score is better: +1 is the same order,
-1 the reverse. Issue 19's question: do models with a high likelihood (low bits/dim) also draw
good samples (low FID)? Theis, van den Oord & Bethge (2016) showed the two can disagree."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

from bench.direction import Direction, rank_sign
from bench.results.aggregate import Leaderboard, Row

LIKELIHOOD_KEY = "bits_per_dim"
MIN_ROWS = 3  # rows a rank correlation needs to say anything
NO_VARIANT = {"", "-"}  # Trial.variant when no hyperparameter varies along the entry's grid


@dataclass(frozen=True)
class Agreement:
    dataset: str
    key: str  # e.g. bits_per_dim
    against: str  # e.g. the dataset's ranking key, fid
    models: tuple[str, ...]  # the rows with a mean of both keys, in the order of `against`
    rho: float  # Spearman; NaN with a note when it cannot be computed
    tau: float  # Kendall (tau-b)
    note: str | None = None

    @property
    def n(self) -> int:
        return len(self.models)


def rank_agreement(
    board: Leaderboard, key: str = LIKELIHOOD_KEY, against: str | None = None
) -> list[Agreement]:
    """One Agreement per dataset that has rows with both `key` and `against` (default: the
    dataset's ranking key; a dataset ranked by `key` itself is left out)."""
    found = []
    for dataset in board.datasets():
        rows = [r for r in board.rows if r.dataset == dataset]
        other = against or next((r.primary for r in rows if r.primary), None)
        if other is None or other == key or not {key, other} <= set(board.keys):
            continue
        both = [r for r in rows if math.isfinite(r.mean(key)) and math.isfinite(r.mean(other))]
        if not both:
            continue
        score_a = [score(board, r, key) for r in both]
        score_b = [score(board, r, other) for r in both]
        order = sorted(range(len(both)), key=lambda i: score_b[i])
        models = tuple(row_name(both[i]) for i in order)
        found.append(Agreement(dataset, key, other, models, *correlations(score_a, score_b)))
    return found


def correlations(a: list[float], b: list[float]) -> tuple[float, float, str | None]:
    """(Spearman rho, Kendall tau, note) of two equally long score lists."""
    if len(a) < MIN_ROWS:
        return math.nan, math.nan, f"only {len(a)} rows with both values (a rank needs {MIN_ROWS})"
    if len(set(a)) == 1 or len(set(b)) == 1:
        return math.nan, math.nan, "every row has the same value of one key"
    from scipy.stats import kendalltau, spearmanr

    return float(spearmanr(a, b).statistic), float(kendalltau(a, b).statistic), None


def score(board: Leaderboard, row: Row, key: str) -> float:
    """The row's mean of `key`, signed so that smaller is better whatever the key's direction."""
    return rank_sign(cast(Direction, board.direction(key))) * row.mean(key)


def row_name(row: Row) -> str:
    return row.model if row.variant in NO_VARIANT else f"{row.model} ({row.variant})"
