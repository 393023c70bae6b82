"""The `bench` command line: one module per group of commands, each command a small function
that parses options and calls the library. Importing this package registers every command."""

import bench.cli.sync  # noqa: F401  (`bench sync` registers on import)
from bench.cli import compare, evaluate, inspect, report, run, sample  # noqa: F401  (they register)
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
