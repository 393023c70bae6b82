"""Suites that build on others: `include:` (one file or a list, relative to the including file)
merged as YAML mappings, and `bench run --set key.path=value` overrides applied after includes.

Merging: mappings merge key by key, recursively; any other value (a number, a string, a list)
in the including file replaces the included one whole, lists included. With several includes, a
later one wins over an earlier one, and the including file wins over them all. Every merged value
keeps the file and line it came from, so later errors name that file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bench.errors import SuiteError, dotted
from bench.suite.source import Locator, SuiteLoader, YamlPath, compose, read_suite_file

INCLUDE = "include"


def resolve(path: Path, chain: tuple[Path, ...] = ()) -> tuple[dict, Locator]:
    """The suite at `path` with its includes merged in, and where each value came from."""
    source = str(path)
    data, lines = compose(read_suite_file(path), source)
    local = Locator(source, lines)
    names = _include_names(data.pop(INCLUDE, None), local)
    merged: dict = {}
    where = Locator(source, {}, {})
    for index, name in enumerate(names):
        at = (INCLUDE, index) if (INCLUDE, index) in lines else (INCLUDE,)
        target = _include_target(path, name, chain, local.where(at))
        data_in, where_in = resolve(target, (*chain, path.resolve()))
        _overlay(merged, where, data_in, where_in)
    local.lines = {p: n for p, n in lines.items() if not p or p[0] != INCLUDE}
    _overlay(merged, where, data, local)
    return merged, where


def _include_names(value: Any, local: Locator) -> list[str]:
    if value is None:
        return []
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise SuiteError(
            "include: must name a suite file or a list of them",
            where=local.where((INCLUDE,)),
            fix="write e.g. `include: gans.yaml` or `include: [base.yaml, budget.yaml]`, "
            "paths relative to this file",
        )
    return names


def _include_target(path: Path, name: str, chain: tuple[Path, ...], where: str) -> Path:
    target = path.parent / name
    if not target.is_file():
        raise SuiteError(
            f"included suite file '{name}' not found (looked for {target})",
            where=where,
            fix="name an existing YAML file, relative to the including file's folder",
        )
    seen = (*chain, path.resolve())
    if target.resolve() in seen:
        loop = " -> ".join(str(p) for p in (*seen, target.resolve()))
        raise SuiteError(
            f"suite files include one another in a circle: {loop}",
            where=where,
            fix="remove one of these include: entries",
        )
    return target


def _overlay(base: dict, where: Locator, top: dict, top_where: Locator) -> None:
    """Merge `top` into `base` (top wins; lists and scalars replace), keeping the origins."""
    for path in _replaced(top, ()):
        _forget(where, path)
    _merge(base, top)
    for path, line in top_where.lines.items():
        where.lines[path] = line
        where.files[path] = top_where.files.get(path, top_where.source)
    for path, file in top_where.files.items():
        where.files.setdefault(path, file)


def _merge(base: dict, top: dict) -> None:
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def _replaced(top: dict, path: YamlPath) -> list[YamlPath]:
    """Paths whose value in `top` is not a mapping: what they held before is replaced whole."""
    found: list[YamlPath] = []
    for key, value in top.items():
        if isinstance(value, dict):
            found += _replaced(value, (*path, key))
        else:
            found.append((*path, key))
    return found


def _forget(where: Locator, path: YamlPath) -> None:
    """Drop the origins recorded at and beneath `path`."""
    for table in (where.lines, where.files):
        for known in [p for p in table if p[: len(path)] == path]:
            del table[known]


def apply_sets(data: dict, where: Locator, settings: list[str]) -> None:
    """`key.path=value` overrides (value read as YAML), in order; unknown keys are left for the
    suite's validation to refuse with a suggestion."""
    for setting in settings:
        path, value = _parse_setting(setting)
        _assign(data, path, value, setting)
        _forget(where, path)
        for depth in range(1, len(path) + 1):  # a key the option creates belongs to it too
            key = path[:depth]
            if key not in where.lines and key not in where.files:
                where.files[key] = f"--set {setting}"


def _parse_setting(setting: str) -> tuple[YamlPath, Any]:
    key, sep, text = setting.partition("=")
    parts = key.strip().split(".")
    if not sep or not all(parts):
        raise SuiteError(
            f"--set '{setting}' is not key.path=value",
            where="bench run --set",
            fix="write e.g. --set budget.steps=500 or --set seeds=[0,1]",
        )
    try:
        value = yaml.load(text, Loader=SuiteLoader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise SuiteError(
            f"--set '{setting}': the value is not valid YAML ({exc})",
            where="bench run --set",
            fix="quote strings with special characters, write lists as [a, b]",
        ) from None
    path = tuple(int(p) if p.isdigit() else p for p in parts)
    return path, value


def _assign(data: dict, path: YamlPath, value: Any, setting: str) -> None:
    node: Any = data
    for depth, key in enumerate(path[:-1]):
        nxt = _child(node, key)
        if nxt is None:
            if not isinstance(node, dict):
                _bad_path(setting, path[: depth + 1])
            nxt = node[key] = {}
        node = nxt
    last = path[-1]
    if isinstance(node, dict) or _child(node, last) is not None:
        node[last] = value
    else:
        _bad_path(setting, path)


def _child(node: Any, key: str | int) -> Any:
    if isinstance(node, dict):
        return node.get(key)
    if isinstance(node, list) and isinstance(key, int) and key < len(node):
        return node[key]
    return None


def _bad_path(setting: str, path: YamlPath) -> None:
    raise SuiteError(
        f"--set '{setting}': the suite has nothing to set at {dotted(path)}",
        where="bench run --set",
        fix="name a mapping key, or an existing list position such as models.0.hparams.lr",
    )
