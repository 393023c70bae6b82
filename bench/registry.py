"""One small generic registry: name -> entry, with listing, type checks and "did you mean" errors.

Every registry is filled the same way, by a class decorator: `@MODELS.register("gan")`. A registry
of classes (models, datasets) keeps the class; a registry of instances (metrics, feature spaces)
keeps one instance of it, made at registration."""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from bench.errors import BenchError

T = TypeVar("T")


def suggest(name: str, choices: list[str]) -> str:
    """A ' Did you mean …?' clause for a misspelt name, or '' when nothing is close."""
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.6)
    if not close:
        return ""
    return " Did you mean " + " or ".join(f"'{c}'" for c in close) + "?"


class Registry(Generic[T]):
    """Maps names to entries that carry a one-line `description`. `base` is the class every
    registered class must derive from; with `instances`, the registry keeps `cls()`."""

    def __init__(self, kind: str, base: type, *, instances: bool = False) -> None:
        self.kind = kind
        self.base = base
        self.instances = instances
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[type], type]:
        """Class decorator: `@REGISTRY.register("name")`."""

        def decorator(cls: type) -> type:
            self._check(name, cls)
            self._entries[name] = cls() if self.instances else cls  # type: ignore[assignment]
            return cls

        return decorator

    def _check(self, name: str, cls: Any) -> None:
        where = f"{getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', repr(cls))}"
        if not (isinstance(cls, type) and issubclass(cls, self.base)):
            raise BenchError(
                f"cannot register {where} as {self.kind} '{name}': it is not a subclass of "
                f"{self.base.__module__}.{self.base.__name__}",
                fix=f"derive it from {self.base.__name__} and decorate the class itself with "
                f"@{self.kind.upper().replace(' ', '_')}S.register('{name}')",
            )
        if name in self._entries:
            raise BenchError(
                f"{self.kind} '{name}' is registered twice (again by {where})",
                fix="give one of them another name",
            )

    def remove(self, name: str) -> None:
        """Forget an entry; tests register throwaway entries and clean up after themselves."""
        del self._entries[name]

    def get(self, name: str, where: str | None = None) -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise BenchError(
                f"unknown {self.kind} '{name}'.{suggest(name, self.names())}",
                where=where,
                fix=f"use one of: {', '.join(self.names())} (see `bench list {self.kind}s`)",
            ) from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[tuple[str, T]]:
        return iter(sorted(self._entries.items()))

    def describe(self) -> list[tuple[str, str]]:
        """(name, one-line description) rows for `bench list`."""
        return [(name, getattr(entry, "description", "")) for name, entry in self]


def import_submodules(package: str) -> None:
    """Import every module of `package` (recursively), so each registers what it defines: adding
    a model, dataset or metric is one new file. Modules whose name starts with '_' are skipped."""
    root = importlib.import_module(package)
    for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
        if not info.name.rpartition(".")[2].startswith("_"):
            importlib.import_module(info.name)
