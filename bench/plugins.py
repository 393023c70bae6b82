"""Models, datasets and metrics from outside bench. A third-party package declares its modules in
the `bench.plugins` entry-point group (pyproject: `[project.entry-points."bench.plugins"]
my_models = "my_package.models"`), or a user names modules in $BENCH_PLUGINS (comma separated).
Importing such a module registers what it defines, exactly as bench's own modules do; the runner
imports the same modules in every trial's worker."""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from importlib.metadata import entry_points

from bench.errors import BenchError

PLUGINS_ENV = "BENCH_PLUGINS"
ENTRY_POINT_GROUP = "bench.plugins"


def plugin_modules() -> tuple[str, ...]:
    """The modules of installed `bench.plugins` entry points, then those in $BENCH_PLUGINS."""
    declared = [ep.module for ep in entry_points(group=ENTRY_POINT_GROUP)]
    named = [m.strip() for m in os.environ.get(PLUGINS_ENV, "").split(",") if m.strip()]
    return tuple(dict.fromkeys(declared + named))


def import_plugins(modules: Sequence[str] | None = None) -> None:
    for module in plugin_modules() if modules is None else modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise BenchError(
                f"cannot import plugin module '{module}' (from ${PLUGINS_ENV} or a "
                f"'{ENTRY_POINT_GROUP}' entry point): {exc}",
                fix="install it (or put its folder on PYTHONPATH), or remove it from "
                f"${PLUGINS_ENV} / uninstall the package that declares it",
            ) from None


def load_registries() -> None:
    """Import the packages whose import registers every dataset, model and metric, then the
    plugins."""
    import bench.data  # noqa: F401
    import bench.metrics  # noqa: F401
    import bench.models  # noqa: F401

    import_plugins()
