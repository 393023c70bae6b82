"""Suite files: the pydantic schema, YAML loading with a line number for every node, validation of
every name and hyperparameter before anything trains, and expansion into `Trial`s.

A suite is a grid: model entries x their hyperparameter grid points x datasets x seeds. In
`hparams`, a YAML list is a grid axis, except for hyperparameters whose own type is a list or tuple:
there a flat list is one value and a list of lists is an axis."""

from __future__ import annotations

import collections.abc as abc
import copy
import hashlib
import itertools
import json
import math
import random
import re
import reprlib
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from bench.errors import BenchError, SuiteError, SuiteErrors
from bench.plugins import load_registries
from bench.published import Published
from bench.registry import suggest

MAX_TRIALS_WITHOUT_CONFIRM: int = 256

YamlPath = tuple[str | int, ...]
_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
_PYTHON_TAG = "tag:yaml.org,2002:python/"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_FORMAT_HINT = "see suites/quickstart.yaml for a complete example"
_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 60
_REPR.maxlevel = 3


# --------------------------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Budget(_Strict):
    steps: int = Field(ge=1, description="training steps per trial, a whole number >= 1")
    eval_every: int = Field(
        ge=1, description="steps between evaluations, a whole number from 1 up to `steps`"
    )
    eval_samples: int = Field(
        2000, ge=2, description="samples generated per evaluation, a whole number >= 2"
    )
    checkpoint_every: int | None = Field(
        None,
        ge=1,
        description="steps between checkpoints a failed trial restarts from, a whole number from "
        "1 up to `steps`; defaults to eval_every",
    )

    @field_validator("eval_every")
    @classmethod
    def _within_steps(cls, value: int, info: Any) -> int:
        steps = info.data.get("steps")
        if steps is not None and value > steps:
            raise ValueError(
                f"eval_every ({value}) is larger than steps ({steps}), so no evaluation would run"
            )
        return value

    @field_validator("checkpoint_every")
    @classmethod
    def _checkpoint_within_steps(cls, value: int | None, info: Any) -> int | None:
        steps = info.data.get("steps")
        if value is not None and steps is not None and value > steps:
            raise ValueError(
                f"checkpoint_every ({value}) is larger than steps ({steps}), so no checkpoint "
                "would be written"
            )
        return value

    @model_validator(mode="after")
    def _default_checkpoint_every(self) -> Budget:
        if self.checkpoint_every is None:
            self.checkpoint_every = self.eval_every
        return self


class Resources(_Strict):
    cpu: float = Field(1.0, gt=0, description="CPU cores per trial, > 0 (fractions allowed)")
    gpu: float = Field(
        0.0,
        ge=0,
        description="GPUs per trial: 0, a fraction below 1 to share a GPU (e.g. 0.25), "
        "or a whole number",
    )
    custom: dict[str, Annotated[float, Field(ge=0)]] = Field(
        default_factory=dict,
        description="custom Ray resources per trial, e.g. {accelerator_a100: 1} (nodes declare "
        "them with `ray start --resources`)",
    )

    def request(self) -> dict[str, float]:
        """What one trial asks Ray for, in Ray's resource names."""
        return {"CPU": self.cpu, "GPU": self.gpu, **self.custom}

    @field_validator("gpu")
    @classmethod
    def _packable(cls, value: float) -> float:
        if value > 1 and not float(value).is_integer():
            raise ValueError(
                f"gpu {value} cannot be scheduled: Ray packs only fractions below one GPU; "
                f"use {math.floor(value)} or {math.ceil(value)}, or a fraction below 1"
            )
        return value


class Tracking(_Strict):
    wandb: Literal["offline", "online", "disabled"] = Field(
        "offline", description="one of offline, online, disabled"
    )
    project: str = Field("bench", description="the wandb project name")
    entity: str | None = Field(None, description="the wandb entity (user or team), or omit it")


class Search(_Strict):
    algorithm: Literal["grid", "random"] = Field(
        "grid",
        description="grid: every combination of the listed values; random: num_samples draws "
        "from the distributions in hparams ({loguniform: [lo, hi]}, {uniform: [lo, hi]}, "
        "{randint: [lo, hi]}, {choice: [...]}), crossed with any listed values",
    )
    num_samples: int = Field(1, ge=1, description="random draws per model entry, >= 1")
    seed: int = Field(0, ge=0, description="seed of the draws: the same seed, the same trials")

    @model_validator(mode="after")
    def _samples_need_random(self) -> Search:
        if self.algorithm == "grid" and self.num_samples != 1:
            raise ValueError(
                f"num_samples {self.num_samples} needs algorithm: random (a grid is enumerated, "
                "not sampled)"
            )
        return self


class Asha(_Strict):
    metric: str = Field(description="a metric key the suite reports, e.g. fid or modes")
    mode: Literal["min", "max"] | None = Field(
        None, description="min or max; defaults to the metric's own direction"
    )
    grace_period: int = Field(
        ge=1, description="steps every trial runs before it can be stopped, from 1 up to `steps`"
    )
    reduction_factor: float = Field(
        3.0, gt=1, description="keep the best 1/reduction_factor at every rung, > 1"
    )


class Scheduler(_Strict):
    asha: Asha | None = Field(
        None,
        description="stop weak trials early: {metric: fid, grace_period: 200, reduction_factor: 3}",
    )


class DatasetRef(_Strict):
    name: str = Field(description="a registered dataset name (see `bench list datasets`)")
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="dataset parameters as a mapping, e.g. {n_samples: 5000}",
    )

    @model_validator(mode="before")
    @classmethod
    def _bare_name(cls, data: Any) -> Any:
        return {"name": data} if isinstance(data, str) else data

    @property
    def label(self) -> str:
        """The name, plus the parameters given in the suite: 'ring8(n_samples=5000)'."""
        if not self.params:
            return self.name
        inner = ", ".join(f"{k}={_short(v)}" for k, v in sorted(self.params.items(), key=str))
        return f"{self.name}({inner})"


class ModelRef(_Strict):
    name: str = Field(description="a registered model name (see `bench list models`)")
    label: str | None = Field(
        None, min_length=1, description="the leaderboard row name; defaults to the model name"
    )
    hparams: dict[str, Any] = Field(
        default_factory=dict,
        description="hyperparameters as a mapping; a list is a grid axis, e.g. lr: [1e-4, 2e-4]",
    )
    datasets: list[str] | None = Field(
        None,
        min_length=1,
        description="the dataset labels this model runs on, e.g. [mnist5k]; omit it for all of "
        "the suite's datasets",
    )
    budget: dict[str, Any] | None = Field(
        None,
        description="this model's own budget keys over the suite's, e.g. {steps: 800}; "
        "checkpoint_every follows its eval_every unless given",
    )

    @property
    def row_label(self) -> str:
        return self.label or self.name

    def runs_on(self, dataset: DatasetRef) -> bool:
        """Whether this model runs on `dataset`, named in `datasets:` by its label or its name."""
        return self.datasets is None or bool({dataset.label, dataset.name} & set(self.datasets))


class Suite(_Strict):
    name: str = Field(
        pattern=_NAME_PATTERN,
        description="it becomes a folder name: letters, digits, '_', '.' and '-', "
        "starting with a letter or digit",
    )
    description: str = Field("", description="free text")
    seeds: list[Annotated[int, Field(ge=0)]] = Field(
        min_length=1, description="a non-empty list of distinct whole numbers >= 0, e.g. [0, 1, 2]"
    )
    budget: Budget = Field(description="a mapping {steps: ..., eval_every: ..., eval_samples: ...}")
    resources: Resources = Field(
        default_factory=Resources, description="a mapping {cpu: ..., gpu: ...} per trial"
    )
    datasets: list[DatasetRef] = Field(
        min_length=1,
        description="a non-empty list of dataset names or {name: ..., params: {...}} mappings",
    )
    models: list[ModelRef] = Field(
        min_length=1,
        description="a non-empty list of {name: ..., label: ..., hparams: {...}} mappings",
    )
    metrics: list[str] | None = Field(
        None,
        min_length=1,
        description="a non-empty list of metric names; omit it to use every metric that applies",
    )
    tracking: Tracking = Field(
        default_factory=Tracking, description="a mapping {wandb: ..., project: ..., entity: ...}"
    )
    max_failures: int = Field(
        2,
        ge=0,
        description="retries (from the last checkpoint) of a trial whose worker or node died, a "
        "whole number >= 0; a trial whose model raises is never retried",
    )
    search: Search = Field(
        default_factory=Search,
        description="a mapping {algorithm: grid | random, num_samples: N, seed: S}",
    )
    scheduler: Scheduler = Field(
        default_factory=Scheduler,
        description="a mapping {asha: {metric: ..., grace_period: ..., reduction_factor: ...}}",
    )

    published: Published | None = Field(
        None,
        description="a mapping {entries: [...], reference_checks: [...], deviations: [...], "
        "threshold: ...} of published numbers that `bench reproduce` compares with",
    )

    _source: Path | None = PrivateAttr(None)
    _locator: _Locator | None = PrivateAttr(None)

    @property
    def source(self) -> Path | None:
        """The file this suite was loaded from, or None when it came from text."""
        return self._source

    @field_validator("seeds")
    @classmethod
    def _distinct_seeds(cls, seeds: list[int]) -> list[int]:
        return _distinct(seeds, "seed")

    @field_validator("metrics")
    @classmethod
    def _distinct_metrics(cls, names: list[str] | None) -> list[str] | None:
        return None if names is None else _distinct(names, "metric")


def _distinct(values: list[Any], noun: str) -> list[Any]:
    repeated = sorted({v for v in values if values.count(v) > 1}, key=str)
    if repeated:
        listed = ", ".join(map(str, repeated))
        raise ValueError(f"{noun} {listed} is listed more than once; list each {noun} once")
    return values


# --------------------------------------------------------------------------------------------
# Trials
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trial:
    """One training run; `to_dict()` is its config.json and reproduces it alone."""

    trial_id: str
    suite: str
    model: str
    model_label: str
    dataset: str
    dataset_label: str
    dataset_params: dict
    hparams: dict
    grid: dict
    seed: int
    metrics: tuple[str, ...]
    budget: dict
    resources: dict

    def to_dict(self) -> dict:
        out = {f.name: copy.deepcopy(getattr(self, f.name)) for f in fields(self)}
        out["metrics"] = list(self.metrics)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> Trial:
        """Inverse of `to_dict`; keys it does not know are ignored, missing ones are an error."""
        names = [f.name for f in fields(cls)]
        missing = [n for n in names if n not in data]
        if missing:
            raise ValueError(f"trial config lacks {', '.join(missing)}")
        values = {n: copy.deepcopy(data[n]) for n in names}
        values["metrics"] = tuple(values["metrics"])
        return cls(**values)

    @property
    def variant(self) -> str:
        """The hyperparameters that vary along this entry's grid, as 'k=v, ...' ('-' if none)."""
        return ", ".join(f"{k}={v}" for k, v in sorted(self.grid.items())) or "-"

    @property
    def group_key(self) -> tuple[str, str, str]:
        """Trials that differ only by seed share this key (one leaderboard row)."""
        return (self.dataset_label, self.model_label, json.dumps(self.grid, sort_keys=True))


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def load_suite(path: str | Path) -> Suite:
    """Read, parse and fully validate a suite file; raises SuiteError / SuiteErrors."""
    path = Path(path)
    suite = parse_suite(_read(path), source=str(path))
    suite._source = path
    return suite


def parse_suite(text: str, source: str = "<string>") -> Suite:
    """Parse and fully validate suite text; `source` names it in error messages."""
    data, lines = _compose(text, source)
    locator = _Locator(source, lines)
    try:
        suite = Suite.model_validate(data)
    except ValidationError as exc:
        errors = _without_implied_missing(exc.errors())
        raise _combined(
            [_explain(err, Suite, tuple(err["loc"]), locator) for err in errors]
        ) from None
    suite._locator = locator
    trials = expand(suite)  # names, hyperparameters, compatibility and metrics are checked here
    if suite.published is not None:
        from bench.reproduce import check_published

        problems = check_published(suite.published, trials, locate=locator.where)
        if problems:
            raise _combined(problems)
    return suite


def expand(suite: Suite) -> list[Trial]:
    """Every trial of the suite: model entries x grid points x datasets x seeds, in that order."""
    locator = suite._locator or _Locator(str(suite.source or f"suite '{suite.name}'"), {})
    return _Planner(suite, locator).trials()


def _read(path: Path) -> str:
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


# --------------------------------------------------------------------------------------------
# YAML with line numbers
# --------------------------------------------------------------------------------------------


@dataclass
class _Locator:
    """Turns a path within the suite such as ('models', 0, 'hparams', 'lr') into 'file:12 (...)'."""

    source: str
    lines: dict[YamlPath, int]

    def line(self, path: Sequence[str | int]) -> int | None:
        for depth in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:depth]))
            if line is not None:
                return line
        return None

    def where(self, path: Sequence[str | int]) -> str:
        line = self.line(path)
        at = f"{self.source}:{line}" if line is not None else self.source
        dotted = _dotted(path)
        return f"{at} ({dotted})" if dotted else at


def _dotted(path: Sequence[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


class _Loader(yaml.SafeLoader):
    """Safe loading, plus YAML 1.2 floats without a dot such as 1e-4 (YAML 1.1, and so plain
    PyYAML, reads those as strings: a classic surprise with learning rates)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+.0123456789"),
)


def _compose(text: str, source: str) -> tuple[dict, dict[YamlPath, int]]:
    """Safe-load `text` into a mapping plus a map of node path -> 1-based line."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise SuiteError("the suite file is empty", where=source, fix=_FORMAT_HINT)
        lines: dict[YamlPath, int] = {}
        walker = _Walker(_Locator(source, lines))
        walker.node(node, ())
        if walker.problems:
            raise _combined(walker.problems)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(exc, source) from None
    except yaml.YAMLError as exc:
        raise SuiteError(f"not valid YAML: {exc}", where=source, fix=_FORMAT_HINT) from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise SuiteError(
            f"the top level must be a mapping of keys (name:, seeds:, ...), not a "
            f"{type(data).__name__}",
            where=f"{source}:{node.start_mark.line + 1}",
            fix=_FORMAT_HINT,
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

    def __init__(self, locator: _Locator) -> None:
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
    name: str, first: int, path: YamlPath, key: yaml.Node, locator: _Locator
) -> SuiteError:
    return SuiteError(
        f"key '{name}' appears twice in one mapping (lines {first} and {_key_line(key)}); "
        "YAML would silently keep only the last one",
        where=f"{locator.source}:{_key_line(key)} ({_dotted(path)})",
        fix=f"keep one '{name}:' and delete the other",
    )


# --------------------------------------------------------------------------------------------
# Pydantic errors -> SuiteErrors
# --------------------------------------------------------------------------------------------


def _explain(
    err: Any,
    root: type[BaseModel],
    path: YamlPath,
    locator: _Locator,
    noun: str = "key",
    subject: str = "",
) -> SuiteError:
    """One pydantic error as a SuiteError at `path` (the full path of err's loc in the file)."""
    loc = tuple(err["loc"])
    where = locator.where(path)
    if err["type"] == "extra_forbidden":
        valid = list(_model_at(root, loc[:-1]).model_fields)
        key = str(loc[-1])
        return SuiteError(
            f"unknown {noun} '{key}'{subject}.{suggest(key, valid)}",
            where=where,
            fix=f"valid {noun}s{subject}: {', '.join(valid)}",
        )
    name, field = _field_at(root, loc)
    hint = _field_hint(field) or _FORMAT_HINT
    if err["type"] == "missing":
        return SuiteError(f"missing required {noun} '{name}'{subject}", where=where, fix=hint)
    message = str(err["msg"]).removeprefix("Value error, ")
    # the where already names a schema key; a model's or dataset's parameter gets named again
    label = f"{noun} '{_dotted(loc)}'{subject}: " if subject and loc else ""
    got = "" if err["type"] == "value_error" else f" (got {_got(err.get('input'))})"
    return SuiteError(f"{label}{message}{got}", where=where, fix=hint)


def _without_implied_missing(errors: list[Any]) -> list[Any]:
    """Drop 'missing X' where a misspelt key next to it already says 'did you mean X'."""
    typos: dict[tuple, list[str]] = {}
    for err in errors:
        if err["type"] == "extra_forbidden":
            typos.setdefault(tuple(err["loc"][:-1]), []).append(str(err["loc"][-1]))

    def implied(err: Any) -> bool:
        *parent, name = err["loc"] or ("",)
        return any(suggest(typo, [str(name)]) for typo in typos.get(tuple(parent), []))

    return [err for err in errors if not (err["type"] == "missing" and implied(err))]


def _field_hint(field: Any) -> str:
    if field is None:
        return ""
    text = field.description or ""
    default = None if field.is_required() else field.get_default(call_default_factory=True)
    if default is not None:
        default = default.model_dump() if isinstance(default, BaseModel) else default
        text += f"{'; ' if text else ''}default {_short(default)}"
    return text


def _model_at(root: type[BaseModel], loc: Sequence[str | int]) -> type[BaseModel]:
    """The schema model that holds the keys at `loc` (list indices are stepped over)."""
    return _descend(root, loc)[2] or root


def _field_at(root: type[BaseModel], loc: Sequence[str | int]) -> tuple[str, Any]:
    """The name and FieldInfo of the deepest schema field along loc (None when there is none)."""
    name, field, _ = _descend(root, loc)
    return name, field


def _descend(root: type[BaseModel], loc: Sequence[str | int]) -> tuple[str, Any, Any]:
    name, found, current = "", None, root
    for part in loc:
        field = current.model_fields.get(part) if current and isinstance(part, str) else None
        if field is not None:
            # below a field that is not itself a model (a dict, a list of str) no key is known
            name, found, current = str(part), field, _nested_model(field.annotation)
    return name, found, current


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _nested_model(arg)
        if found is not None:
            return found
    return None


def _got(value: Any) -> str:
    return _REPR.repr(value)


def _combined(errors: list[SuiteError]) -> SuiteError:
    unique = list({e.message(): e for e in errors}.values())
    return unique[0] if len(unique) == 1 else SuiteErrors(unique)


def _short(value: Any) -> str:
    """A value for a message or label: strings bare, anything else as a bounded repr (safe for
    huge or self-referencing YAML built from aliases)."""
    return value if isinstance(value, str) and len(value) <= 60 else _REPR.repr(value)


# --------------------------------------------------------------------------------------------
# Semantic checks and expansion
# --------------------------------------------------------------------------------------------


@dataclass
class _Data:
    index: int
    ref: DatasetRef
    params: dict
    info: Any  # DataInfo
    spec: Any  # EvalSpec


@dataclass
class _Entry:
    index: int
    ref: ModelRef
    points: list[tuple[dict, dict]]  # (validated hparams, the varying part of them)
    budget: dict  # the suite's budget with the model's own keys over it, validated


class _Planner:
    """Resolves every name of a suite against the registries, collecting all problems."""

    def __init__(self, suite: Suite, locator: _Locator) -> None:
        self.suite = suite
        self.locator = locator
        self.errors: list[SuiteError] = []

    def fail(self, what: str, path: YamlPath, fix: str | None) -> None:
        self.errors.append(SuiteError(what, where=self.locator.where(path), fix=fix))

    def trials(self) -> list[Trial]:
        load_registries()
        data = [d for d in map(self.dataset, enumerate(self.suite.datasets)) if d is not None]
        all_data = len(data) == len(self.suite.datasets)
        metrics = self.metrics(data, check_use=all_data)
        entries = [e for e in map(self.model, enumerate(self.suite.models)) if e is not None]
        for entry in entries:
            self.known_datasets(entry)
            self.compatibility(entry, [d for d in data if entry.ref.runs_on(d.ref)])
        self.distinct_labels()
        self.scheduler(data, metrics)
        if self.errors:
            raise _combined(self.errors)
        trials = [
            self.trial(entry, hparams, grid, d, seed, self.for_model(entry, metrics[d.index]))
            for entry in entries
            for hparams, grid in entry.points
            for d in data
            if entry.ref.runs_on(d.ref)
            for seed in self.suite.seeds
        ]
        self.distinct_ids(trials)
        return trials

    def scheduler(self, data: list[_Data], metrics: dict[int, tuple[str, ...]]) -> None:
        """ASHA needs a metric key that every trial reports and a grace period within budget."""
        asha = self.suite.scheduler.asha
        if asha is None:
            return
        path: YamlPath = ("scheduler", "asha")
        if asha.grace_period > self.suite.budget.steps:
            self.fail(
                f"grace_period ({asha.grace_period}) is larger than budget.steps "
                f"({self.suite.budget.steps}), so no trial could ever be stopped",
                (*path, "grace_period"),
                f"use a grace_period of at most {self.suite.budget.steps}",
            )
        keys = reported_keys(self.suite)
        if not data or asha.metric in keys:
            return
        self.fail(
            f"scheduler metric '{asha.metric}' is not reported by this suite's metrics."
            f"{suggest(asha.metric, list(keys))}",
            (*path, "metric"),
            f"use one of: {', '.join(keys)}" if keys else "add a metric to the suite",
        )

    def lookup(self, registry: Any, name: str, path: YamlPath) -> Any:
        """The registry's entry, or None with an error recorded at `path` ("did you mean")."""
        try:
            return registry.get(name)
        except BenchError as exc:
            self.fail(exc.what, path, exc.fix)
            return None

    def dataset(self, item: tuple[int, DatasetRef]) -> _Data | None:
        from bench.data.base import DATASETS

        index, ref = item
        cls = self.lookup(DATASETS, ref.name, ("datasets", index, "name"))
        if cls is None:
            return None
        try:
            params = cls.Params.model_validate(ref.params)
        except ValidationError as exc:
            subject = f" of dataset '{ref.name}'"
            for err in _without_implied_missing(exc.errors()):
                path = ("datasets", index, "params", *err["loc"])
                self.errors.append(
                    _explain(err, cls.Params, path, self.locator, "dataset parameter", subject)
                )
            return None
        built = cls(params)
        return _Data(index, ref, _plain(params.model_dump()), built.info, built.eval_spec)

    def metrics(self, data: list[_Data], check_use: bool) -> dict[int, tuple[str, ...]]:
        """Per dataset index, the metrics that apply to it, in suite (or registry) order."""
        from bench.metrics.base import METRICS

        chosen = self.suite.metrics
        names = chosen if chosen is not None else metrics_in_order()
        found = [
            (i, name, self.lookup(METRICS, name, ("metrics", i))) for i, name in enumerate(names)
        ]
        known = [(i, name, metric) for i, name, metric in found if metric is not None]
        if chosen is not None and check_use:
            for index, name, metric in known:
                self.metric_used(index, name, metric, data)
        return {
            d.index: tuple(name for _, name, m in known if m.applies(d.spec, d.info) is None)
            for d in data
        }

    @staticmethod
    def for_model(entry: _Entry, names: tuple[str, ...]) -> tuple[str, ...]:
        """The metrics among `names` that can measure this entry's model."""
        from bench.metrics.base import METRICS
        from bench.models.base import MODELS

        cls = MODELS.get(entry.ref.name)
        return tuple(n for n in names if METRICS.get(n).applies_to_model(cls) is None)

    def metric_used(self, index: int, name: str, metric: Any, data: list[_Data]) -> None:
        reasons = [(d.ref.label, metric.applies(d.spec, d.info)) for d in data]
        if all(reason is not None for _, reason in reasons):
            why = "; ".join(f"{label}: {reason}" for label, reason in reasons)
            self.fail(
                f"metric '{name}' applies to none of this suite's datasets ({why})",
                ("metrics", index),
                f"remove '{name}' from metrics, or add a dataset it applies to "
                "(omit `metrics:` to use every metric that applies)",
            )

    def model(self, item: tuple[int, ModelRef]) -> _Entry | None:
        from bench.models.base import MODELS

        index, ref = item
        cls = self.lookup(MODELS, ref.name, ("models", index, "name"))
        if cls is None:
            return None
        points = _Grid(self, index, ref, cls.HParams).points()
        budget = self.budget_for(index, ref)
        return _Entry(index, ref, points, budget) if points and budget else None

    def budget_for(self, index: int, ref: ModelRef) -> dict | None:
        """The suite's budget with the model's `budget:` keys over it, or None (errors noted)."""
        base = self.suite.budget.model_dump()
        override = ref.budget or {}
        if {"steps", "eval_every"} & override.keys() and "checkpoint_every" not in override:
            base.pop("checkpoint_every")  # follows the model's own eval_every
        try:
            return Budget.model_validate({**base, **override}).model_dump()
        except ValidationError as exc:
            subject = f" of model '{ref.row_label}'"
            for err in exc.errors():
                path = ("models", index, "budget", *err["loc"])
                self.errors.append(_explain(err, Budget, path, self.locator, "budget key", subject))
            return None

    def known_datasets(self, entry: _Entry) -> None:
        """A model's `datasets:` may only name datasets of the suite."""
        labels = [d.label for d in self.suite.datasets]
        names = labels + [d.name for d in self.suite.datasets]
        for i, label in enumerate(entry.ref.datasets or []):
            if label not in names:
                self.fail(
                    f"model '{entry.ref.row_label}' names dataset '{label}', which is not in "
                    f"this suite's datasets.{suggest(label, labels)}",
                    ("models", entry.index, "datasets", i),
                    f"use one of {', '.join(labels)}, or add '{label}' to the suite's datasets",
                )

    def compatibility(self, entry: _Entry, data: list[_Data]) -> None:
        from bench.models.base import MODELS

        cls = MODELS.get(entry.ref.name)
        for d in data:
            reason = cls.incompatibility(d.info)
            if reason is not None:
                self.fail(
                    f"model '{entry.ref.name}' cannot train on dataset '{d.ref.label}': {reason}",
                    ("models", entry.index),
                    "give this model a `datasets:` list of the datasets it suits, or remove "
                    f"'{d.ref.label}' from the suite",
                )

    def distinct_labels(self) -> None:
        for index, repeated, first in _repeats([m.row_label for m in self.suite.models]):
            self.fail(
                f"models[{first}] and models[{index}] are both labelled '{repeated}', so their "
                "leaderboard rows would merge",
                ("models", index),
                f"give one of them its own `label:`, e.g. label: {repeated}_{index}",
            )
        for index, repeated, first in _repeats([d.label for d in self.suite.datasets]):
            self.fail(
                f"dataset '{repeated}' is listed twice (datasets[{first}] and datasets[{index}])",
                ("datasets", index),
                "delete one of them, or give them different params",
            )

    def distinct_ids(self, trials: list[Trial]) -> None:
        """A last guard: labels that differ only in characters a folder name cannot hold."""
        first: dict[str, Trial] = {}
        for trial in (t for t in trials if t.seed == self.suite.seeds[0]):
            other = first.setdefault(trial.trial_id, trial)
            if other is not trial:
                self.fail(
                    f"two trials would share the folder '{trial.trial_id}' (models "
                    f"'{other.model_label}' and '{trial.model_label}' on '{trial.dataset_label}')",
                    ("models",),
                    "give the model entries labels that differ in letters or digits",
                )
        if self.errors:
            raise _combined(self.errors)

    def trial(
        self, entry: _Entry, hparams: dict, grid: dict, d: _Data, seed: int, metrics: tuple
    ) -> Trial:
        ref = entry.ref
        variant = _variant(ref.name, hparams, d.ref.name, d.params)
        trial_id = "-".join((_slug(ref.row_label), _slug(d.ref.label), variant, f"s{seed}"))
        return Trial(
            trial_id=trial_id,
            suite=self.suite.name,
            model=ref.name,
            model_label=ref.row_label,
            dataset=d.ref.name,
            dataset_label=d.ref.label,
            dataset_params=copy.deepcopy(d.params),
            hparams=copy.deepcopy(hparams),
            grid=copy.deepcopy(grid),
            seed=seed,
            metrics=metrics,
            budget=copy.deepcopy(entry.budget),
            resources=self.suite.resources.model_dump(),
        )


class _Grid:
    """The grid points of one model entry, each validated by the model's HParams."""

    def __init__(
        self, planner: _Planner, index: int, ref: ModelRef, hparams_cls: type[BaseModel]
    ) -> None:
        self.planner, self.index, self.ref, self.cls = planner, index, ref, hparams_cls
        self.axes = {
            key: values
            for key, value in ref.hparams.items()
            if (values := _axis(hparams_cls, key, value)) is not None
        }
        self.dists = {
            key: spec
            for key, value in ref.hparams.items()
            if (spec := _distribution(hparams_cls, key, value)) is not None
        }

    def points(self) -> list[tuple[dict, dict]]:
        if self.empty_axes() or self.bad_distributions():
            return []
        varying = [key for key, values in self.axes.items() if len(values) > 1]
        varying += list(self.dists)
        points: list[tuple[dict, dict]] = []
        seen: set[str] = set()
        failed = False
        for draw in self.draws():
            for combo in itertools.product(*(list(enumerate(v)) for v in self.axes.values())):
                chosen = dict(zip(self.axes, combo, strict=True))
                hparams = self.validate(chosen, draw)
                failed = failed or hparams is None or self.repeated(hparams, seen, chosen)
                if hparams is not None:
                    points.append((hparams, {k: hparams[k] for k in varying if k in hparams}))
        return [] if failed else points

    def draws(self) -> list[dict[str, Any]]:
        """One mapping of drawn values per random sample (a single empty one for a grid). The
        generator is seeded by the suite's search seed and the entry's position, so the same file
        always yields the same trials, and adding an entry never reshuffles another's draws."""
        search = self.planner.suite.search
        if search.algorithm == "grid":
            return [{}]
        rng = random.Random(f"{search.seed}:{self.index}")
        return [
            {key: DISTRIBUTIONS[kind].draw(rng, args) for key, (kind, args) in self.dists.items()}
            for _ in range(search.num_samples)
        ]

    def bad_distributions(self) -> bool:
        bad = False
        random_search = self.planner.suite.search.algorithm == "random"
        for key, (kind, args) in self.dists.items():
            path = ("models", self.index, "hparams", key, kind)
            problem = DISTRIBUTIONS[kind].check(args)
            if problem is None and not random_search:
                problem = "a distribution is sampled, so it needs random search"
                fix = "add `search: {algorithm: random, num_samples: N}` to the suite, or list "
                fix += f"values instead: {key}: [a, b]"
            else:
                fix = f"e.g. {key}: {DISTRIBUTIONS[kind].example}"
            if problem is not None:
                bad = True
                self.planner.fail(
                    f"{kind} of hyperparameter '{key}' of model '{self.ref.name}': {problem}",
                    path,
                    fix,
                )
        return bad

    def repeated(self, hparams: dict, seen: set[str], chosen: dict) -> bool:
        """Two grid points that validate to the same hyperparameters would be one trial twice."""
        key = json.dumps(hparams, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            return False
        point = ", ".join(f"{k}={_short(v)}" for k, (_, v) in chosen.items())
        if self.dists:
            drawn = ", ".join(f"{k}={_short(hparams.get(k))}" for k in self.dists)
            self.planner.fail(
                f"random search drew the same hyperparameters of model '{self.ref.name}' twice "
                f"({drawn}{', ' if point else ''}{point}); its space has too few distinct "
                "points for num_samples",
                ("search", "num_samples"),
                "lower num_samples, widen the distributions, or list the values as a grid",
            )
            return True
        self.planner.fail(
            f"the grid of model '{self.ref.name}' yields the same hyperparameters twice "
            f"(again at {point})",
            ("models", self.index, "hparams"),
            "remove the repeated value from its grid axis, e.g. lr: [1e-4, 0.0001] lists one "
            "value twice",
        )
        return True

    def empty_axes(self) -> bool:
        empty = [key for key, values in self.axes.items() if not values]
        for key in empty:
            self.planner.fail(
                f"empty grid axis: hyperparameter '{key}' of model '{self.ref.name}' lists no "
                "values",
                ("models", self.index, "hparams", key),
                f"give at least one value, e.g. {key}: [a, b] for a grid or {key}: a for one "
                "value, or delete the line to use the default",
            )
        return bool(empty)

    def validate(self, chosen: dict[str, tuple[int, Any]], draw: dict[str, Any]) -> dict | None:
        raw = {**self.ref.hparams, **{key: value for key, (_, value) in chosen.items()}, **draw}
        try:
            return _plain(self.cls.model_validate(raw).model_dump())
        except ValidationError as exc:
            for err in exc.errors():
                self.planner.errors.append(self.explain(err, chosen))
            return None

    def explain(self, err: Any, chosen: dict[str, tuple[int, Any]]) -> SuiteError:
        loc = tuple(err["loc"])
        path: YamlPath = ("models", self.index, "hparams", *loc)
        if loc and loc[0] in chosen:  # point at the offending value of the axis
            path = ("models", self.index, "hparams", loc[0], chosen[loc[0]][0], *loc[1:])
        subject = f" of model '{self.ref.name}'"
        error = _explain(err, self.cls, path, self.planner.locator, "hyperparameter", subject)
        if not loc and chosen:  # a check across fields: say which grid point broke it
            point = ", ".join(f"{k}={_short(v)}" for k, (_, v) in chosen.items())
            error = SuiteError(
                f"{error.what} (grid point {point})", where=error.where, fix=error.fix
            )
        return error


# --- distributions of random search -----------------------------------------------------------


@dataclass(frozen=True)
class Distribution:
    """How `{kind: args}` in hparams is checked and drawn from."""

    check: Callable[[Any], str | None]  # what is wrong with args, or None
    draw: Callable[[random.Random, Any], Any]
    example: str


def _bounds(args: Any, positive: bool = False, integers: bool = False) -> str | None:
    kinds = (int,) if integers else (int, float)
    if not (
        isinstance(args, list)
        and len(args) == 2
        and all(isinstance(a, kinds) and not isinstance(a, bool) for a in args)
    ):
        noun = "whole numbers" if integers else "numbers"
        return f"needs a list of two {noun} [low, high] (got {_short(args)})"
    low, high = args
    if positive and low <= 0:
        return f"the low bound must be > 0 for a log scale (got {low})"
    if (low > high) if integers else (low >= high):
        return f"the low bound {low} must be below the high bound {high}"
    return None


def _round(value: float) -> float:
    """Drawn floats keep 6 significant digits: readable in tables, stable through JSON."""
    return float(f"{value:.6g}")


DISTRIBUTIONS: dict[str, Distribution] = {
    "loguniform": Distribution(
        check=lambda a: _bounds(a, positive=True),
        draw=lambda rng, a: _round(math.exp(rng.uniform(math.log(a[0]), math.log(a[1])))),
        example="{loguniform: [1.0e-5, 1.0e-2]}",
    ),
    "uniform": Distribution(
        check=_bounds,
        draw=lambda rng, a: _round(rng.uniform(a[0], a[1])),
        example="{uniform: [0.0, 0.5]}",
    ),
    "randint": Distribution(
        check=lambda a: _bounds(a, integers=True),
        draw=lambda rng, a: rng.randint(a[0], a[1]),  # both bounds included
        example="{randint: [1, 4]}",
    ),
    "choice": Distribution(
        check=lambda a: (
            None
            if isinstance(a, list) and a
            else f"needs a non-empty list of values (got {_short(a)})"
        ),
        draw=lambda rng, a: copy.deepcopy(rng.choice(a)),
        example="{choice: [64, 128, 256]}",
    ),
}


def _distribution(hparams_cls: type[BaseModel], key: str, value: Any) -> tuple[str, Any] | None:
    """(kind, args) when `value` is a one-key mapping naming a distribution, else None. A
    hyperparameter whose own type is a mapping takes such a value literally."""
    if not (isinstance(value, dict) and len(value) == 1):
        return None
    ((kind, args),) = value.items()
    field = hparams_cls.model_fields.get(key)
    if kind not in DISTRIBUTIONS or (field is not None and _is_mapping_type(field.annotation)):
        return None
    return kind, args


def _is_mapping_type(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType, Annotated):
        return any(_is_mapping_type(a) for a in get_args(annotation) if a is not type(None))
    base = origin or annotation
    return base in (abc.Mapping, abc.MutableMapping) or (
        isinstance(base, type) and issubclass(base, dict)
    )


def reported_keys(suite: Suite) -> dict[str, str]:
    """Metric key -> direction ("min" | "max") of every key the suite's metrics report."""
    from bench.metrics.base import METRICS

    load_registries()
    directions: dict[str, str] = {}
    for name in suite.metrics if suite.metrics is not None else metrics_in_order():
        if name in METRICS.names():
            directions.update(METRICS.get(name).directions)
    return directions


def _axis(hparams_cls: type[BaseModel], key: str, value: Any) -> list | None:
    """The values of a grid axis, or None when `value` is a single value."""
    if not isinstance(value, list):
        return None
    field = hparams_cls.model_fields.get(key)
    if field is not None and _is_sequence_type(field.annotation):
        # a list-typed hyperparameter: a flat list is one value, a list of lists an axis
        return value if value and all(isinstance(v, list) for v in value) else None
    return value


def _is_sequence_type(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType, Annotated):
        return any(_is_sequence_type(a) for a in get_args(annotation) if a is not type(None))
    base = origin or annotation
    if base in (abc.Sequence, abc.MutableSequence, abc.Set, abc.MutableSet):
        return True
    return isinstance(base, type) and issubclass(base, (list, tuple, set, frozenset))


def _repeats(labels: list[str]) -> list[tuple[int, str, int]]:
    """(index, label, index of its first occurrence) for every repeated label."""
    first: dict[str, int] = {}
    found = []
    for index, label in enumerate(labels):
        if first.setdefault(label, index) != index:
            found.append((index, label, first[label]))
    return found


def _variant(model: str, hparams: dict, dataset: str, params: dict) -> str:
    blob = json.dumps([model, hparams, dataset, params], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:6]


def _slug(text: str, limit: int = 48) -> str:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_.-")
    return slug[:limit].rstrip("_.-") or "x"


def _plain(value: Any) -> Any:
    """Tuples become lists (and enums their values) so a trial survives a JSON round trip."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return getattr(value, "value", value) if hasattr(value, "_value_") else value


def metrics_in_order() -> list[str]:
    """Every registered metric, in display order (Metric.order, then name)."""
    from bench.metrics.base import METRICS

    return sorted(METRICS.names(), key=lambda name: (METRICS.get(name).order, name))
