"""User-facing errors: what went wrong, where, and how to fix it. The CLI prints these without a
traceback; anything else reaching the CLI is a bug and keeps its traceback."""

from __future__ import annotations

from collections.abc import Sequence


class BenchError(Exception):
    """An error the user can act on."""

    def __init__(self, what: str, *, where: str | None = None, fix: str | None = None) -> None:
        self.what = what
        self.where = where
        self.fix = fix
        super().__init__(self.message())

    def message(self) -> str:
        text = f"{self.where}: {self.what}" if self.where else self.what
        if self.fix:
            text += f"\n  fix: {self.fix}"
        return text


class SuiteError(BenchError):
    """A suite file that cannot be loaded, validated or expanded."""


class SuiteErrors(SuiteError):
    """Several independent problems found in one suite file, reported together."""

    def __init__(self, errors: list[SuiteError]) -> None:
        self.errors = errors
        what = f"{len(errors)} problems in the suite:\n" + "\n".join(
            "- " + e.message().replace("\n", "\n  ") for e in errors
        )
        super().__init__(what)


def dotted(path: Sequence[str | int]) -> str:
    """A path into a suite as the user reads it: ('models', 0, 'lr') -> models[0].lr."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
