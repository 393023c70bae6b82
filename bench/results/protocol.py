"""Measurement protocols (metrics.json `protocol`: feature space, extractor hash, sample counts,
reference split, k, versions) compared field by field.

Two numbers are comparable only when they were measured the same way: an FID over 2,000 samples
is not an FID over 10,000. A difference in a measuring field makes a comparison "differs"; a
difference in versions alone is reported but does not block it (a new bench commit should not make
every older run incomparable); a run that recorded no protocol is "unknown", said, never refused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SAME, VERSIONS, DIFFERS, UNKNOWN = "same", "versions differ", "differs", "unknown"
Protocol = Mapping[str, Any] | None


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested mapping as dotted keys ('versions.torch'), so a difference is named exactly."""
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def is_version(field: str) -> bool:
    """Whether a protocol field records a software version rather than a measuring choice."""
    return "version" in field.lower()


def text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


@dataclass(frozen=True)
class ProtocolCheck:
    """How the protocols of one row in two runs relate; `fields` -> (values in the first run,
    values in the other), for the fields that differ."""

    state: str
    fields: dict[str, tuple[str, str]]
    unknown_in: tuple[str, ...] = ()  # labels of the runs that recorded no protocol

    @property
    def blocks(self) -> bool:
        """Whether the numbers were measured differently (versions alone do not block)."""
        return self.state == DIFFERS

    def summary(self) -> str:
        """One line for a reader: 'same', 'unknown (not recorded in A)', 'differs: k 5 vs 3'."""
        if self.state == UNKNOWN:
            return f"unknown (not recorded in run {', '.join(self.unknown_in)})"
        if self.state == SAME:
            return SAME
        diffs = "; ".join(f"{f} {a} vs {b}" for f, a, b in self.items())
        return f"{self.state}: {diffs}"

    def items(self) -> list[tuple[str, str, str]]:
        return [(f, a, b) for f, (a, b) in self.fields.items()]


def values_of(protocols: Sequence[Protocol], field: str) -> str:
    """A field's value(s) across a row's trials, as text ('—' where a trial lacks it)."""
    seen = dict.fromkeys(text(flatten(p).get(field, "—")) for p in protocols if p is not None)
    return " / ".join(seen)


def check(
    first: Sequence[Protocol], other: Sequence[Protocol], labels: tuple[str, str]
) -> ProtocolCheck:
    """Compare the protocols of a row's trials in two runs (every distinct protocol of each;
    trials of one run that disagree among themselves count as a difference too)."""
    unknown = tuple(
        label
        for label, protocols in zip(labels, (first, other), strict=True)
        if not protocols or any(p is None for p in protocols)
    )
    if unknown:
        return ProtocolCheck(UNKNOWN, {}, unknown)
    flats = [flatten(p) for p in (*first, *other) if p is not None]
    names = dict.fromkeys(k for flat in flats for k in flat)
    missing = object()
    differing = [n for n in names if len({text(f.get(n, missing)) for f in flats}) > 1]
    fields = {n: (values_of(first, n), values_of(other, n)) for n in differing}
    if not fields:
        return ProtocolCheck(SAME, {})
    measured = any(not is_version(n) for n in fields)
    return ProtocolCheck(DIFFERS if measured else VERSIONS, fields)


def shared_protocol(protocols: Sequence[Protocol]) -> tuple[dict[str, str], list[str]]:
    """Fields every protocol of `protocols` agrees on (as text), and the names of those that
    vary: what a report prints as one dataset's protocol."""
    flats = [flatten(p) for p in protocols if p is not None]
    names = list(dict.fromkeys(k for flat in flats for k in flat))
    seen = {n: {text(f.get(n, "—")) for f in flats} for n in names}
    agreed = {n: next(iter(values)) for n, values in seen.items() if len(values) == 1}
    return agreed, [n for n in names if n not in agreed]
