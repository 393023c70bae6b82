"""Reading a suite file: safe YAML, with the line of every node kept so that every later error can
say `file:line (models[0].hparams.lr)`; and the errors of the file itself (missing, a folder,
unreadable, YAML syntax, Python tags, duplicate keys)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bench.errors import SuiteError, SuiteErrors, dotted
from bench.registry import suggest
from bench.suite.text import FORMAT_HINT

YamlPath = tuple[str | int, ...]
_PYTHON_TAG = "tag:yaml.org,2002:python/"
_MERGE_TAG = "tag:yaml.org,2002:merge"


def read_suite_file(path: Path) -> str:
    if not path.exists():
        raise SuiteError("suite file not found", where=str(path), fix=_file_hint(path))
    if path.is_dir():
        listed = _yaml_files(path)
        raise SuiteError(
            "this is a folder, not a suite file",
            where=str(path),
            fix="pass one YAML file" + (f", e.g. {', '.join(listed)}" if listed else ""),
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError(
            f"cannot read the suite file: {exc}",
            where=str(path),
            fix="pass a readable UTF-8 YAML file",
        ) from None
    return text


def _file_hint(path: Path) -> str:
    folder = path.parent if path.parent.is_dir() and path.parent != Path(".") else Path("suites")
    listed = _yaml_files(folder)
    if not listed:
        return f"check the path; {folder}/ holds no suite files"
    stems = [Path(p).stem for p in listed]
    return f"check the path.{suggest(path.stem, stems)} Suites in {folder}/: {', '.join(listed)}"


def _yaml_files(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    found = [p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()]
    return sorted(str(p) for p in found)[:30]


@dataclass
class Locator:
    """Turns a path within the suite such as ('models', 0, 'hparams', 'lr') into 'file:12 (...)'.
    `files` names, for a path, the file (or `--set` option) its value came from, where a suite
    includes others; any other path belongs to `source`."""

    source: str
    lines: dict[YamlPath, int]
    files: dict[YamlPath, str] = field(default_factory=dict)

    def origin(self, path: Sequence[str | int]) -> tuple[str, int | None]:
        """The file and line of the deepest prefix of `path` that is known."""
        for depth in range(len(path), -1, -1):
            key = tuple(path[:depth])
            if key in self.lines or key in self.files:
                return self.files.get(key, self.source), self.lines.get(key)
        return self.source, None

    def line(self, path: Sequence[str | int]) -> int | None:
        return self.origin(path)[1]

    def where(self, path: Sequence[str | int]) -> str:
        source, line = self.origin(path)
        at = f"{source}:{line}" if line is not None else source
        named = dotted(path)
        return f"{at} ({named})" if named else at


class SuiteLoader(yaml.SafeLoader):
    """Safe loading, plus YAML 1.2 floats without a dot such as 1e-4 (YAML 1.1, and so plain
    PyYAML, reads those as strings: a classic surprise with learning rates)."""


SuiteLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+.0123456789"),
)


def compose(text: str, source: str) -> tuple[dict, dict[YamlPath, int]]:
    """Safe-load `text` into a mapping plus a map of node path -> 1-based line."""
    loader = SuiteLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise SuiteError("the suite file is empty", where=source, fix=FORMAT_HINT)
        lines: dict[YamlPath, int] = {}
        walker = _Walker(Locator(source, lines))
        walker.node(node, ())
        if walker.problems:
            raise combined(walker.problems)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(exc, source) from None
    except yaml.YAMLError as exc:
        raise SuiteError(f"not valid YAML: {exc}", where=source, fix=FORMAT_HINT) from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise SuiteError(
            f"the top level must be a mapping of keys (name:, seeds:, ...), not a "
            f"{type(data).__name__}",
            where=f"{source}:{node.start_mark.line + 1}",
            fix=FORMAT_HINT,
        )
    return data, lines


def _yaml_error(exc: yaml.MarkedYAMLError, source: str) -> SuiteError:
    mark = exc.problem_mark or exc.context_mark
    problem = " ".join(p for p in (exc.context, exc.problem) if p)
    if isinstance(exc, yaml.constructor.ConstructorError):  # e.g. an unknown '!tag'
        what = f"unsupported YAML value: {problem}"
        fix = "write a plain value (number, string, list or mapping) without a '!' tag"
    else:
        what = f"YAML syntax error: {problem}"
        fix = "correct the YAML there (indentation, tabs, a missing ':', unbalanced brackets or "
        fix += "quotes, or a second '---' document)"
    where = source if mark is None else f"{source}:{mark.line + 1}:{mark.column + 1}"
    return SuiteError(what, where=where, fix=fix)


class _Walker:
    """One pass over the composed YAML tree: records the line of every node path in the
    locator's map, and collects what safe loading would let through silently (Python tags,
    duplicate keys)."""

    def __init__(self, locator: Locator) -> None:
        self.locator = locator
        self.problems: list[SuiteError] = []
        self.visited: set[int] = set()

    def node(self, node: yaml.Node, path: YamlPath, weak: bool = False) -> None:
        lines = self.locator.lines
        lines.setdefault(path, node.start_mark.line + 1)  # a mapping value already has its key's
        if id(node) in self.visited:  # an alias: its anchor's subtree was checked (maybe cyclic)
            return
        self.visited.add(id(node))
        if node.tag.startswith(_PYTHON_TAG):
            self.problems.append(
                SuiteError(
                    f"the tag '{node.tag}' is not allowed: suite files are read with safe "
                    "loading, which never runs Python",
                    where=self.locator.where(path),
                    fix="write a plain value (number, string, list or mapping) instead",
                )
            )
        if isinstance(node, yaml.MappingNode):
            self.mapping(node, path, weak)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self.node(item, (*path, index), weak)

    def mapping(self, node: yaml.MappingNode, path: YamlPath, weak: bool) -> None:
        """Keys of a merged-in mapping (`<<:`) are `weak`: they never override local lines."""
        seen: dict[str, int] = {}
        merged: list[yaml.Node] = []
        for key, value in node.value:
            if key.tag == _MERGE_TAG:
                merged.append(value)  # after the local keys, so that those keep their own lines
                continue
            name = (
                key.value if isinstance(key, yaml.ScalarNode) else f"<key at line {_key_line(key)}>"
            )
            if name in seen:
                self.problems.append(
                    _duplicate_key(name, seen[name], (*path, name), key, self.locator)
                )
                continue
            seen[name] = _key_line(key)
            if weak:
                self.locator.lines.setdefault((*path, name), _key_line(key))
            else:
                self.locator.lines[(*path, name)] = _key_line(key)
            self.node(value, (*path, name), weak)
        for value in merged:
            self.node(value, path, weak=True)


def _key_line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _duplicate_key(
    name: str, first: int, path: YamlPath, key: yaml.Node, locator: Locator
) -> SuiteError:
    return SuiteError(
        f"key '{name}' appears twice in one mapping (lines {first} and {_key_line(key)}); "
        "YAML would silently keep only the last one",
        where=f"{locator.source}:{_key_line(key)} ({dotted(path)})",
        fix=f"keep one '{name}:' and delete the other",
    )


def combined(errors: list[SuiteError]) -> SuiteError:
    unique = list({e.message(): e for e in errors}.values())
    return unique[0] if len(unique) == 1 else SuiteErrors(unique)
