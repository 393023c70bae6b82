"""Probes: what the evaluator measures with the model (or reads from the data) before the metrics
run, so that every metric stays a pure function of tensors.

A probe is registered like a metric, `@PROBES.register("reconstructions")` on a `Probe` subclass,
one use per module of this package (data, autoencoding, translation, inpainting, interpolation):
every module is imported, so a new use is one new file. A probe declares the abilities it needs
(Protocols of bench.models.abilities; one, or a tuple of which any will do; None when it reads
the data alone) and the tensors it returns; `run` measures them on the held-out split, the same
fixed subsets, chunks and seeds at every evaluation. Tensors a metric judges in the dataset's
feature space (in-painted images, points along a latent path) are named in `embeds`: the
evaluator maps them with its extractor, so neither the probe nor the metric holds the network.
A metric names the probes it reads in `Metric.probes`, and `unmeasurable` decides from those
whether it can measure a model class: the suite planner and the evaluator both ask it, so they
never disagree.

This package sits above bench.metrics and bench.models (it imports both, neither imports it)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import torch

from bench.data.base import DataSplits, EvalSpec
from bench.metrics.base import Metric, MetricInputError
from bench.metrics.features.base import Extractor
from bench.models.abilities import members, missing
from bench.registry import Registry, import_submodules

NEEDS_MODEL = "needs the model, not only its samples"
NEEDS_FEATURES = (
    "needs the dataset's feature space (the evaluator's extractor) to embed its outputs"
)

Abilities = type | tuple[type, ...]


class Probe:
    """Base class of registered probes: `@PROBES.register("codes")` on the subclass."""

    description: ClassVar[str] = ""
    # The ability (a runtime-checkable Protocol) the model must have, or a tuple of abilities of
    # which the model needs one (the probe picks its mechanism by the ability found); None: the
    # data alone.
    needs: ClassVar[Abilities | None] = None
    keys: ClassVar[tuple[str, ...]] = ()  # the EvalInputs.probes keys the probe may fill
    # Keys of `run`'s data-space tensors (..., *info.shape) the evaluator embeds in the dataset's
    # feature space, adding KEY_features (..., d) and, where the space has them, KEY_logits.
    embeds: ClassVar[tuple[str, ...]] = ()

    def run(self, model: Any, splits: DataSplits, spec: EvalSpec) -> dict[str, torch.Tensor]:
        """The probe's tensors (on the CPU), measured on the held-out split of `splits`. Raises
        MetricInputError when the data cannot be measured (an empty held-out split)."""
        raise NotImplementedError


PROBES: Registry[Probe] = Registry("probe", Probe, instances=True)


# ---------------------------------------------------------------- applicability


def as_tuple(ability: Abilities) -> tuple[type, ...]:
    return ability if isinstance(ability, tuple) else (ability,)


def refusal(probe_name: str, model: type) -> str | None:
    """Why the probe cannot measure models of class `model`, or None when it can."""
    ability = PROBES.get(probe_name).needs
    if ability is None or issubclass(model, ability):
        return None
    wanted = " or ".join(
        f"{', '.join(f'`{m}`' for m in members(a))} ({a.__name__})" for a in as_tuple(ability)
    )
    lacking = " nor ".join(
        ", ".join(f"`{m}`" for m in missing(a, model)) for a in as_tuple(ability)
    )
    return (
        f"its probe '{probe_name}' needs a model with {wanted}, and {model.__name__} has no "
        f"{lacking}"
    )


def needs_model(metric: Metric) -> bool:
    """Whether any probe of `metric` calls the model."""
    return any(PROBES.get(name).needs is not None for name in metric.probes)


def unmeasurable(metric: Metric, model: type | None) -> str | None:
    """Why `metric` cannot measure models of class `model` (None: samples alone, no model), or
    None when it can: a probe it reads needs an ability the class lacks, or the metric's own
    `applies_to_model` refuses the class. The one rule the planner and the evaluator share."""
    if model is None:
        return NEEDS_MODEL if needs_model(metric) else None
    for name in metric.probes:
        reason = refusal(name, model)
        if reason is not None:
            return reason
    return metric.applies_to_model(model)


def probes_of(metrics: Iterable[Metric]) -> list[str]:
    """The probes the metrics read, each once, in the order the metrics name them."""
    return list(dict.fromkeys(name for metric in metrics for name in metric.probes))


def run_probes(
    names: Iterable[str],
    model: Any,
    splits: DataSplits,
    spec: EvalSpec,
    extract: Extractor | None = None,
) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Run each named probe once, embedding what it `embeds` with `extract`: (every tensor by
    key, probe name -> why it failed)."""
    tensors: dict[str, torch.Tensor] = {}
    failed: dict[str, str] = {}
    for name in names:
        probe = PROBES.get(name)
        reason = why_not(name, probe, model, extract)
        if reason is not None:
            failed[name] = reason
            continue
        try:
            out = probe.run(model, splits, spec)
        except MetricInputError as exc:
            failed[name] = str(exc)
            continue
        sample_dims = splits.heldout.dim() - 1
        for key in [k for k in probe.embeds if k in out]:
            out |= embedded(key, out[key], sample_dims, extract)  # type: ignore[arg-type]
        tensors.update(out)
    return tensors, failed


def why_not(name: str, probe: Probe, model: Any, extract: Extractor | None) -> str | None:
    """Why `probe` cannot run here (no model, a missing ability, no extractor), or None."""
    if probe.needs is not None and model is None:
        return NEEDS_MODEL
    if probe.embeds and extract is None:
        return NEEDS_FEATURES
    return None if model is None else refusal(name, type(model))


def embedded(
    key: str, x: torch.Tensor, sample_dims: int, extract: Extractor
) -> dict[str, torch.Tensor]:
    """x (..., *sample shape) in the feature space, the leading dimensions kept: KEY_features
    (..., d) and, when the space gives them, KEY_logits (..., K)."""
    lead = x.shape[: x.dim() - sample_dims]
    out = extract(x.reshape(-1, *x.shape[len(lead) :]))
    found = {f"{key}_features": out.features, f"{key}_logits": out.logits}
    return {k: v.reshape(*lead, -1) for k, v in found.items() if v is not None}


import_submodules(__name__)
