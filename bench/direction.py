"""Which way a value is better. Each metric declares it per key (`Metric.directions`: "min" or
"max"); these functions are the only places that act on a direction, so ranking, the best
evaluation, the kept best model, the progress view, comparisons and wandb summaries all read
"lower is better" the same way. No torch here: the CLI ranks leaderboards without loading it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

Direction = Literal["min", "max"]
ARROWS = {"min": "↓", "max": "↑"}  # as tables show a key's direction
WORDS = {"min": "lower", "max": "higher"}  # as sentences say it


def better(value: float, than: float, direction: Direction) -> bool:
    """Whether `value` is strictly better than `than`."""
    return value < than if direction == "min" else value > than


def best_of(values: Iterable[float], direction: Direction) -> float:
    """The best of `values`."""
    return min(values) if direction == "min" else max(values)


def rank_sign(direction: Direction) -> float:
    """Multiplies a value into a sort key that puts the best first (ascending sort)."""
    return 1.0 if direction == "min" else -1.0


def gain(difference: float, direction: Direction) -> float:
    """A difference (B - A) turned so that positive means B is better."""
    return -rank_sign(direction) * difference
