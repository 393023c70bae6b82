"""Loading a suite: read -> parse -> validate -> expand, exactly once. `load_suite` returns the
suite with its trials (`suite.trials`); nothing downstream expands it again."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from bench.suite.explain import explain, without_implied_missing
from bench.suite.include import apply_sets, resolve
from bench.suite.plan import Planner
from bench.suite.published import check_published
from bench.suite.schema import Suite
from bench.suite.source import Locator, combined, compose
from bench.trial import Trial


def load_suite(path: str | Path, settings: Sequence[str] = ()) -> Suite:
    """Read a suite file with its includes, apply `--set key.path=value` overrides, then parse
    and fully validate it; raises SuiteError / SuiteErrors naming the file each value came from."""
    path = Path(path)
    data, locator = resolve(path)
    apply_sets(data, locator, list(settings))
    suite = validate(data, locator)
    suite._source = path
    return suite


def parse_suite(text: str, source: str = "<string>") -> Suite:
    """Parse and fully validate suite text (no includes); `source` names it in error messages."""
    data, lines = compose(text, source)
    return validate(data, Locator(source, lines))


def validate(data: dict, locator: Locator) -> Suite:
    """Validate a suite mapping, plan its trials and check its published numbers."""
    try:
        suite = Suite.model_validate(data)
    except ValidationError as exc:
        errors = without_implied_missing(exc.errors())
        raise combined(
            [explain(err, Suite, tuple(err["loc"]), locator) for err in errors]
        ) from None
    suite._locator = locator
    trials = expand(suite)  # names, hyperparameters, compatibility and metrics are checked here
    if suite.published is not None:
        problems = check_published(suite.published, trials, locate=locator.where)
        if problems:
            raise combined(problems)
    return suite


def expand(suite: Suite) -> list[Trial]:
    """Every trial of the suite: model entries x grid points x datasets x seeds, in that order.
    Planned once and kept on the suite (`suite.trials`); later calls return the same list."""
    if suite._trials is None:
        locator = suite._locator or Locator(str(suite.source or f"suite '{suite.name}'"), {})
        suite._trials = Planner(suite, locator).trials()
    return suite._trials
