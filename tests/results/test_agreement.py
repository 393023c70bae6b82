"""Rank agreement of two leaderboard keys per dataset (bench.results.agreement): known ranks give
+1 and -1, directions are honoured, and few rows give a note instead of a number."""

from __future__ import annotations

import math

from bench.report.agreement import agreement_markdown
from bench.results.aggregate import Leaderboard, Row
from bench.results.agreement import rank_agreement


def row(dataset: str, model: str, **values: float) -> Row:
    return Row(dataset, model, "", 1, {}, {k: [v] for k, v in values.items()}, [], primary="fid")


def board(rows: list[Row], **directions: str) -> Leaderboard:
    return Leaderboard("test", rows, {"fid": "min", "bits_per_dim": "min", **directions})


def test_the_same_order_is_one_and_the_reverse_minus_one() -> None:
    same = [row("a", f"m{i}", fid=i, bits_per_dim=10 + i) for i in range(4)]
    reverse = [row("b", f"m{i}", fid=i, bits_per_dim=10 - i) for i in range(4)]
    gan = [row("a", "gan", fid=0.5)]  # no likelihood: left out
    found = {a.dataset: a for a in rank_agreement(board(same + reverse + gan))}
    assert (found["a"].rho, found["a"].tau, found["a"].n) == (1.0, 1.0, 4)
    assert (found["b"].rho, found["b"].tau) == (-1.0, -1.0)
    assert found["a"].models == ("m0", "m1", "m2", "m3")


def test_a_higher_is_better_key_is_turned_before_ranking() -> None:
    rows = [row("a", f"m{i}", fid=i, bits_per_dim=1, coverage=1 - i / 10) for i in range(3)]
    (item,) = rank_agreement(board(rows, coverage="max"), key="coverage")
    assert item.rho == 1.0 and item.against == "fid"


def test_fewer_than_three_rows_give_a_note_and_nothing_without_likelihood() -> None:
    (item,) = rank_agreement(board([row("a", f"m{i}", fid=i, bits_per_dim=i) for i in range(2)]))
    assert math.isnan(item.rho) and "only 2 rows" in (item.note or "")
    assert rank_agreement(board([row("a", "gan", fid=1.0)])) == []
    assert agreement_markdown(board([row("a", "gan", fid=1.0)])) == []


def test_the_markdown_names_dataset_and_correlations() -> None:
    rows = [row("ring8", f"m{i}", fid=i, bits_per_dim=10 - i) for i in range(3)]
    text = "\n".join(agreement_markdown(board(rows)))
    assert "| ring8 | bits_per_dim vs fid | 3 | -1.00 | -1.00 |" in text
