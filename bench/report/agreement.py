"""The leaderboard's answer to "do likelihood and sample quality rank the models the same way?"
(bench.results.agreement), as Markdown lines; nothing when no dataset has both keys."""

from __future__ import annotations

import math

from bench.results.aggregate import Leaderboard
from bench.results.agreement import Agreement, rank_agreement

HEADER = ["dataset", "keys", "rows", "Spearman ρ", "Kendall τ", "order by the second key"]


def correlation(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:+.2f}"


def agreement_cells(item: Agreement) -> list[str]:
    keys = f"{item.key} vs {item.against}"
    order = (
        ", ".join(item.models) if item.note is None else f"{', '.join(item.models)} ({item.note})"
    )
    return [item.dataset, keys, str(item.n), correlation(item.rho), correlation(item.tau), order]


AGREEMENT_NOTE = (
    "Rank correlation of the rows' means, each key turned by its direction (+1: the same order, "
    "-1: reversed); rows without both values are left out."
)


def agreement_markdown(board: Leaderboard) -> list[str]:
    items = rank_agreement(board)
    if not items:
        return []
    lines = ["## Do likelihood and sample quality rank the models the same way?", ""]
    lines += [AGREEMENT_NOTE, ""]
    lines += ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(agreement_cells(i)) + " |" for i in items]
    return lines + [""]
