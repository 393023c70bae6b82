"""Loading a suite: read -> parse -> validate -> expand, exactly once. `load_suite` returns the
suite with its trials (`suite.trials`); nothing downstream expands it again."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from bench.suite.explain import explain, without_implied_missing
from bench.suite.plan import Planner
from bench.suite.published import check_published
from bench.suite.schema import Suite
from bench.suite.source import Locator, combined, compose, read_suite_file
from bench.trial import Trial


def load_suite(path: str | Path) -> Suite:
    """Read, parse and fully validate a suite file; raises SuiteError / SuiteErrors."""
    path = Path(path)
    suite = parse_suite(read_suite_file(path), source=str(path))
    suite._source = path
    return suite


def parse_suite(text: str, source: str = "<string>") -> Suite:
    """Parse and fully validate suite text; `source` names it in error messages."""
    data, lines = compose(text, source)
    locator = Locator(source, lines)
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
