"""Which way is better, spelt once: every consumer ranks, picks and compares through it."""

from bench.direction import best_of, better, gain, rank_sign


def test_lower_and_higher_is_better():
    assert better(1.0, 2.0, "min") and not better(2.0, 1.0, "min")
    assert better(2.0, 1.0, "max") and not better(1.0, 1.0, "max")  # strictly
    assert best_of([3.0, 1.0, 2.0], "min") == 1.0 and best_of([3.0, 1.0, 2.0], "max") == 3.0
    assert sorted([3.0, 1.0, 2.0], key=lambda v: rank_sign("max") * v) == [3.0, 2.0, 1.0]
    assert sorted([3.0, 1.0, 2.0], key=lambda v: rank_sign("min") * v) == [1.0, 2.0, 3.0]
    assert gain(-0.5, "min") == 0.5 and gain(-0.5, "max") == -0.5  # B 0.5 lower: better for min
