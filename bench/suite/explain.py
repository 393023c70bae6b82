"""Pydantic's validation errors as SuiteErrors: the file and line of the offending key, "did you
mean" for misspelt keys, and the field's own description as the fix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, get_args

from pydantic import BaseModel

from bench.errors import SuiteError, dotted
from bench.registry import suggest
from bench.suite.source import Locator, YamlPath
from bench.suite.text import FORMAT_HINT, got, short


def explain(
    err: Any,
    root: type[BaseModel],
    path: YamlPath,
    locator: Locator,
    noun: str = "key",
    subject: str = "",
) -> SuiteError:
    """One pydantic error as a SuiteError at `path` (the full path of err's loc in the file)."""
    loc = tuple(err["loc"])
    where = locator.where(path)
    if err["type"] == "extra_forbidden":
        model = _model_at(root, loc[:-1])
        valid, key = list(model.model_fields), str(loc[-1])
        new_name = getattr(model, "renamed", {}).get(key)
        hint = (
            f" Did you mean '{new_name}'? ('{key}' is its old name)"
            if new_name
            else suggest(key, valid)
        )
        return SuiteError(
            f"unknown {noun} '{key}'{subject}.{hint}",
            where=where,
            fix=f"valid {noun}s{subject}: {', '.join(valid)}",
        )
    name, field = _field_at(root, loc)
    hint = _field_hint(field) or FORMAT_HINT
    if err["type"] == "missing":
        return SuiteError(f"missing required {noun} '{name}'{subject}", where=where, fix=hint)
    message = str(err["msg"]).removeprefix("Value error, ")
    # the where already names a schema key; a model's or dataset's parameter gets named again
    label = f"{noun} '{dotted(loc)}'{subject}: " if subject and loc else ""
    given = "" if err["type"] == "value_error" else f" (got {got(err.get('input'))})"
    return SuiteError(f"{label}{message}{given}", where=where, fix=hint)


def without_implied_missing(errors: list[Any]) -> list[Any]:
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
        text += f"{'; ' if text else ''}default {short(default)}"
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


class Problems:
    """Every problem found in a suite, collected so the user sees them all at once, each with the
    file and line it is about."""

    def __init__(self, locator: Locator) -> None:
        self.locator = locator
        self.errors: list[SuiteError] = []

    def fail(self, what: str, path: YamlPath, fix: str | None) -> None:
        self.errors.append(SuiteError(what, where=self.locator.where(path), fix=fix))
