"""Random search: the distributions a hyperparameter may be drawn from, `{kind: args}` in hparams,
how their arguments are checked and how a value is drawn."""

from __future__ import annotations

import collections.abc as abc
import copy
import math
import random
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

from bench.suite.text import short


@dataclass(frozen=True)
class Distribution:
    """How `{kind: args}` in hparams is checked and drawn from."""

    check: Callable[[Any], str | None]  # what is wrong with args, or None
    draw: Callable[[random.Random, Any], Any]
    example: str


def _bounds(args: Any, positive: bool = False, integers: bool = False) -> str | None:
    kinds = (int,) if integers else (int, float)
    if not (
        isinstance(args, list)
        and len(args) == 2
        and all(isinstance(a, kinds) and not isinstance(a, bool) for a in args)
    ):
        noun = "whole numbers" if integers else "numbers"
        return f"needs a list of two {noun} [low, high] (got {short(args)})"
    low, high = args
    if positive and low <= 0:
        return f"the low bound must be > 0 for a log scale (got {low})"
    if (low > high) if integers else (low >= high):
        return f"the low bound {low} must be below the high bound {high}"
    return None


def _round(value: float) -> float:
    """Drawn floats keep 6 significant digits: readable in tables, stable through JSON."""
    return float(f"{value:.6g}")


DISTRIBUTIONS: dict[str, Distribution] = {
    "loguniform": Distribution(
        check=lambda a: _bounds(a, positive=True),
        draw=lambda rng, a: _round(math.exp(rng.uniform(math.log(a[0]), math.log(a[1])))),
        example="{loguniform: [1.0e-5, 1.0e-2]}",
    ),
    "uniform": Distribution(
        check=_bounds,
        draw=lambda rng, a: _round(rng.uniform(a[0], a[1])),
        example="{uniform: [0.0, 0.5]}",
    ),
    "randint": Distribution(
        check=lambda a: _bounds(a, integers=True),
        draw=lambda rng, a: rng.randint(a[0], a[1]),  # both bounds included
        example="{randint: [1, 4]}",
    ),
    "choice": Distribution(
        check=lambda a: (
            None
            if isinstance(a, list) and a
            else f"needs a non-empty list of values (got {short(a)})"
        ),
        draw=lambda rng, a: copy.deepcopy(rng.choice(a)),
        example="{choice: [64, 128, 256]}",
    ),
}


def distribution_of(hparams_cls: type[BaseModel], key: str, value: Any) -> tuple[str, Any] | None:
    """(kind, args) when `value` is a one-key mapping naming a distribution, else None. A
    hyperparameter whose own type is a mapping takes such a value literally."""
    if not (isinstance(value, dict) and len(value) == 1):
        return None
    ((kind, args),) = value.items()
    field = hparams_cls.model_fields.get(key)
    if kind not in DISTRIBUTIONS or (field is not None and _is_mapping_type(field.annotation)):
        return None
    return kind, args


def _is_mapping_type(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType, Annotated):
        return any(_is_mapping_type(a) for a in get_args(annotation) if a is not type(None))
    base = origin or annotation
    return base in (abc.Mapping, abc.MutableMapping) or (
        isinstance(base, type) and issubclass(base, dict)
    )
