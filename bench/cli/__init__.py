"""The `bench` command line: one module per group of commands, each command a small function
that parses options and calls the library. Importing this package registers every command."""

from bench.cli import inspect, measure, run  # noqa: F401  (commands register on import)
from bench.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_NOT_REPRODUCED,
    EXIT_TRIALS_FAILED,
    EXIT_USAGE,
    app,
)

__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_NOT_REPRODUCED",
    "EXIT_TRIALS_FAILED",
    "EXIT_USAGE",
    "app",
    "main",
]


def main() -> None:
    app()
