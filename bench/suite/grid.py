"""The grid points of one model entry: list-valued hyperparameters are axes, distributions are
drawn for random search, and every point is validated by the model's HParams."""

from __future__ import annotations

import collections.abc as abc
import itertools
import json
import random
import types
from typing import TYPE_CHECKING, Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from bench.errors import SuiteError
from bench.suite.explain import Problems, explain
from bench.suite.search import DISTRIBUTIONS, distribution_of
from bench.suite.source import YamlPath
from bench.suite.text import short

if TYPE_CHECKING:
    from bench.suite.schema import ModelRef, Search


class Grid:
    """The grid points of one model entry, each validated by the model's HParams."""

    def __init__(
        self,
        problems: Problems,
        search: Search,
        index: int,
        ref: ModelRef,
        hparams_cls: type[BaseModel],
    ) -> None:
        self.problems, self.search = problems, search
        self.index, self.ref, self.cls = index, ref, hparams_cls
        self.axes = {
            key: values
            for key, value in ref.hparams.items()
            if (values := axis_values(hparams_cls, key, value)) is not None
        }
        self.dists = {
            key: spec
            for key, value in ref.hparams.items()
            if (spec := distribution_of(hparams_cls, key, value)) is not None
        }

    def points(self) -> list[tuple[dict, dict]]:
        if self.empty_axes() or self.bad_distributions():
            return []
        varying = [key for key, values in self.axes.items() if len(values) > 1]
        varying += list(self.dists)
        points: list[tuple[dict, dict]] = []
        seen: set[str] = set()
        failed = False
        for draw in self.draws():
            for combo in itertools.product(*(list(enumerate(v)) for v in self.axes.values())):
                chosen = dict(zip(self.axes, combo, strict=True))
                hparams = self.validate(chosen, draw)
                failed = failed or hparams is None or self.repeated(hparams, seen, chosen)
                if hparams is not None:
                    points.append((hparams, {k: hparams[k] for k in varying if k in hparams}))
        return [] if failed else points

    def draws(self) -> list[dict[str, Any]]:
        """One mapping of drawn values per random sample (a single empty one for a grid). The
        generator is seeded by the suite's search seed and the entry's position, so the same file
        always yields the same trials, and adding an entry never reshuffles another's draws."""
        search = self.search
        if search.algorithm == "grid":
            return [{}]
        rng = random.Random(f"{search.seed}:{self.index}")
        return [
            {key: DISTRIBUTIONS[kind].draw(rng, args) for key, (kind, args) in self.dists.items()}
            for _ in range(search.num_samples)
        ]

    def bad_distributions(self) -> bool:
        bad = False
        random_search = self.search.algorithm == "random"
        for key, (kind, args) in self.dists.items():
            path = ("models", self.index, "hparams", key, kind)
            problem = DISTRIBUTIONS[kind].check(args)
            if problem is None and not random_search:
                problem = "a distribution is sampled, so it needs random search"
                fix = "add `search: {algorithm: random, num_samples: N}` to the suite, or list "
                fix += f"values instead: {key}: [a, b]"
            else:
                fix = f"e.g. {key}: {DISTRIBUTIONS[kind].example}"
            if problem is not None:
                bad = True
                self.problems.fail(
                    f"{kind} of hyperparameter '{key}' of model '{self.ref.name}': {problem}",
                    path,
                    fix,
                )
        return bad

    def repeated(self, hparams: dict, seen: set[str], chosen: dict) -> bool:
        """Two grid points that validate to the same hyperparameters would be one trial twice."""
        key = json.dumps(hparams, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            return False
        point = ", ".join(f"{k}={short(v)}" for k, (_, v) in chosen.items())
        if self.dists:
            drawn = ", ".join(f"{k}={short(hparams.get(k))}" for k in self.dists)
            self.problems.fail(
                f"random search drew the same hyperparameters of model '{self.ref.name}' twice "
                f"({drawn}{', ' if point else ''}{point}); its space has too few distinct "
                "points for num_samples",
                ("search", "num_samples"),
                "lower num_samples, widen the distributions, or list the values as a grid",
            )
            return True
        self.problems.fail(
            f"the grid of model '{self.ref.name}' yields the same hyperparameters twice "
            f"(again at {point})",
            ("models", self.index, "hparams"),
            "remove the repeated value from its grid axis, e.g. lr: [1e-4, 0.0001] lists one "
            "value twice",
        )
        return True

    def empty_axes(self) -> bool:
        empty = [key for key, values in self.axes.items() if not values]
        for key in empty:
            self.problems.fail(
                f"empty grid axis: hyperparameter '{key}' of model '{self.ref.name}' lists no "
                "values",
                ("models", self.index, "hparams", key),
                f"give at least one value, e.g. {key}: [a, b] for a grid or {key}: a for one "
                "value, or delete the line to use the default",
            )
        return bool(empty)

    def validate(self, chosen: dict[str, tuple[int, Any]], draw: dict[str, Any]) -> dict | None:
        raw = {**self.ref.hparams, **{key: value for key, (_, value) in chosen.items()}, **draw}
        try:
            return plain(self.cls.model_validate(raw).model_dump())
        except ValidationError as exc:
            for err in exc.errors():
                self.problems.errors.append(self.explain(err, chosen))
            return None

    def explain(self, err: Any, chosen: dict[str, tuple[int, Any]]) -> SuiteError:
        loc = tuple(err["loc"])
        path: YamlPath = ("models", self.index, "hparams", *loc)
        if loc and loc[0] in chosen:  # point at the offending value of the axis
            path = ("models", self.index, "hparams", loc[0], chosen[loc[0]][0], *loc[1:])
        subject = f" of model '{self.ref.name}'"
        error = explain(err, self.cls, path, self.problems.locator, "hyperparameter", subject)
        if not loc and chosen:  # a check across fields: say which grid point broke it
            point = ", ".join(f"{k}={short(v)}" for k, (_, v) in chosen.items())
            error = SuiteError(
                f"{error.what} (grid point {point})", where=error.where, fix=error.fix
            )
        return error


def axis_values(hparams_cls: type[BaseModel], key: str, value: Any) -> list | None:
    """The values of a grid axis, or None when `value` is a single value."""
    if not isinstance(value, list):
        return None
    field = hparams_cls.model_fields.get(key)
    if field is not None and _is_sequence_type(field.annotation):
        # a list-typed hyperparameter: a flat list is one value, a list of lists an axis
        return value if value and all(isinstance(v, list) for v in value) else None
    return value


def _is_sequence_type(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType, Annotated):
        return any(_is_sequence_type(a) for a in get_args(annotation) if a is not type(None))
    base = origin or annotation
    if base in (abc.Sequence, abc.MutableSequence, abc.Set, abc.MutableSet):
        return True
    return isinstance(base, type) and issubclass(base, (list, tuple, set, frozenset))


def plain(value: Any) -> Any:
    """Tuples become lists (and enums their values) so a trial survives a JSON round trip."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return getattr(value, "value", value) if hasattr(value, "_value_") else value
