"""The `published:` section of a suite: published numbers with their uncertainty and source.
Only the schema lives here (the suite schema embeds it); bench.reproduce validates entries against
a suite's trials and compares a finished run with them."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DEFAULT_THRESHOLD = 2.0


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Source(_Strict):
    paper: str = Field(min_length=1, description="the publication, e.g. 'Lee & Town 2020'")
    table: str | None = Field(None, description="where in it, e.g. 'Table 2' or 'README'")
    url: str | None = Field(None, description="a link to the paper or table")

    def text(self) -> str:
        parts = [self.paper] + [p for p in (self.table, self.url) if p]
        return ", ".join(parts)


class PublishedValue(_Strict):
    """A published number and its uncertainty, in the paper's own units."""

    value: float = Field(description="the published value, as printed in the paper")
    spread: float | None = Field(
        None, ge=0, description="the published ± value (>= 0), or omit it when none is given"
    )
    spread_kind: Literal["std", "se"] | None = Field(
        None, description="what the ± is: 'std' (over runs) or 'se' (standard error)"
    )
    runs: int | None = Field(
        None,
        ge=1,
        description="how many runs the value averages, >= 1; a std without runs is used as the "
        "standard error itself (conservative: the widest it can be)",
    )
    scale: float = Field(
        1.0, gt=0, description="multiplier into bench's units, e.g. 0.01 for a percentage"
    )
    source: Source = Field(description="a mapping {paper: ..., table: ..., url: ...}")
    notes: str = Field("", description="how the paper measured it (samples, steps, ...)")

    @field_validator("value")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError(f"the published value must be a finite number, got {value}")
        return value

    @model_validator(mode="after")
    def _spread_is_complete(self) -> PublishedValue:
        if self.spread is not None and self.spread_kind is None:
            raise ValueError(
                "spread is given without spread_kind: say whether it is a standard deviation "
                "('std', needs runs) or a standard error ('se')"
            )
        if self.spread is None and self.spread_kind is not None:
            raise ValueError(f"spread_kind '{self.spread_kind}' is given without a spread value")
        return self

    @property
    def published(self) -> float:
        """The value in bench's units."""
        return self.value * self.scale

    @property
    def standard_error(self) -> float:
        """The published standard error in bench's units; 0 when the paper gives no spread."""
        if self.spread is None:
            return 0.0
        se = self.spread if self.spread_kind == "se" else self.spread / math.sqrt(self.runs or 1)
        return se * self.scale

    def spread_text(self) -> str:
        if self.spread is None:
            return "no spread given"
        runs = f", {self.runs} runs" if self.runs else (", runs not given" if self.std else "")
        return f"{self.spread_kind}{runs}"

    @property
    def std(self) -> bool:
        return self.spread_kind == "std"


class PublishedEntry(PublishedValue):
    """One published number for one leaderboard row of the suite."""

    model: str = Field(min_length=1, description="a model label of this suite")
    dataset: str = Field(
        min_length=1,
        description="a dataset label of this suite, or its dataset name when the suite uses "
        "that dataset once",
    )
    metric: str = Field(min_length=1, description="a metric output key, e.g. fid or modes")
    hparams: dict[str, Any] = Field(
        default_factory=dict,
        description="picks one grid point of the model entry, e.g. {packing: 2}; required when "
        "the entry has a grid",
    )
    setup: dict[str, Any] = Field(
        default_factory=dict,
        description="the paper's settings (steps, eval_samples or hyperparameters): any that "
        "differs from the suite is reported as a deviation",
    )


class ReferenceCheck(PublishedValue):
    """A published value that needs no model: a metric between two splits of a dataset, e.g.
    torch-fidelity's FID between 5,000 CIFAR-10 training and 5,000 test images."""

    dataset: str = Field(
        min_length=1, description="a dataset label of this suite, or its name if used once"
    )
    metric: Literal["fid", "is"] = Field(
        description="fid (training vs held-out subset) or is (Inception Score of the training "
        "subset)"
    )
    samples: int = Field(ge=2, description="images drawn from each split, e.g. 5000")
    draws: int = Field(
        5, ge=2, description="random subsets drawn; their spread gives bench's standard error"
    )


class Published(_Strict):
    """The `published:` section of a suite."""

    threshold: float = Field(
        DEFAULT_THRESHOLD, gt=0, description="|z| at or below which a value is reproduced"
    )
    deviations: list[str] = Field(
        default_factory=list,
        description="known differences between this suite and the papers' setups, as text",
    )
    entries: list[PublishedEntry] = Field(
        default_factory=list, description="a list of published values for this suite's models"
    )
    reference_checks: list[ReferenceCheck] = Field(
        default_factory=list, description="a list of model-free published values"
    )

    @model_validator(mode="after")
    def _not_empty(self) -> Published:
        if not self.entries and not self.reference_checks:
            raise ValueError("the published section lists no entries and no reference_checks")
        return self
