"""Values as a suite's messages and labels show them: bounded, readable, never huge."""

from __future__ import annotations

import reprlib
from typing import Any

_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 60
_REPR.maxlevel = 3
FORMAT_HINT = "see suites/quickstart.yaml for a complete example"


def short(value: Any) -> str:
    """A value for a message or label: strings bare, anything else as a bounded repr (safe for
    huge or self-referencing YAML built from aliases)."""
    return value if isinstance(value, str) and len(value) <= 60 else _REPR.repr(value)


def got(value: Any) -> str:
    """The value a user gave, for '(got ...)' in an error: always a bounded repr."""
    return _REPR.repr(value)
