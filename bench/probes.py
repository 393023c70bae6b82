"""Probes: what the evaluator measures with the model (or reads from the data) before the metrics
run, so that every metric stays a pure function of tensors.

A probe is registered like a metric, `@PROBES.register("reconstructions")` on a `Probe` subclass.
It declares the ability it needs (a Protocol of bench.models.abilities; None when it reads the
data alone) and the tensors it returns; `run` measures them on the held-out split, the same
fixed subsets, chunks and seeds at every evaluation. A metric names the probes it reads in
`Metric.probes`, and `unmeasurable` decides from those whether it can measure a model class: the
suite planner and the evaluator both ask it, so they never disagree.

This module sits above bench.metrics and bench.models (it imports both, neither imports it)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import torch

from bench.data.base import DataSplits, EvalSpec
from bench.data.paired import domain_a, domain_b
from bench.metrics.autoencoding import (
    CHUNK,
    EVAL_SEED,
    MAX_IMAGES,
    NLL_IMAGES,
    NLL_SAMPLES,
    per_image_squared_error,
)
from bench.metrics.base import Metric, MetricInputError
from bench.metrics.translation import CHUNK as PAIR_CHUNK
from bench.models.abilities import (
    Encodes,
    Reconstructs,
    Translates,
    Variational,
    members,
    missing,
)
from bench.models.nets import inference
from bench.registry import Registry

NEEDS_MODEL = "needs the model, not only its samples"


class Probe:
    """Base class of registered probes: `@PROBES.register("codes")` on the subclass."""

    description: ClassVar[str] = ""
    # The ability (a runtime-checkable Protocol) the model must have; None: the data alone.
    needs: ClassVar[type | None] = None
    keys: ClassVar[tuple[str, ...]] = ()  # the EvalInputs.probes keys `run` may fill

    def run(self, model: Any, splits: DataSplits, spec: EvalSpec) -> dict[str, torch.Tensor]:
        """The probe's tensors (on the CPU), measured on the held-out split of `splits`. Raises
        MetricInputError when the data cannot be measured (an empty held-out split)."""
        raise NotImplementedError


PROBES: Registry[Probe] = Registry("probe", Probe, instances=True)


# ---------------------------------------------------------------- applicability


def refusal(probe_name: str, model: type) -> str | None:
    """Why the probe cannot measure models of class `model`, or None when it can."""
    ability = PROBES.get(probe_name).needs
    if ability is None or issubclass(model, ability):
        return None
    wanted = ", ".join(f"`{m}`" for m in members(ability))
    lacking = ", ".join(f"`{m}`" for m in missing(ability, model))
    return (
        f"its probe '{probe_name}' needs a model with {wanted} ({ability.__name__}), and "
        f"{model.__name__} has no {lacking}"
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
    names: Iterable[str], model: Any, splits: DataSplits, spec: EvalSpec
) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Run each named probe once: (every tensor by key, probe name -> why it failed)."""
    tensors: dict[str, torch.Tensor] = {}
    failed: dict[str, str] = {}
    for name in names:
        probe = PROBES.get(name)
        if probe.needs is not None and model is None:
            failed[name] = NEEDS_MODEL
            continue
        reason = None if model is None else refusal(name, type(model))
        if reason is not None:
            failed[name] = reason
            continue
        try:
            tensors.update(probe.run(model, splits, spec))
        except MetricInputError as exc:
            failed[name] = str(exc)
    return tensors, failed


# ---------------------------------------------------------------- helpers


def heldout(splits: DataSplits, limit: int | None = MAX_IMAGES) -> tuple[torch.Tensor, Any]:
    """(x, labels or None) of the first `limit` held-out points (all of them for None)."""
    x = splits.heldout[:limit]
    if len(x) == 0:
        raise MetricInputError("the held-out split is empty")
    labels = splits.heldout_labels
    return x, None if labels is None else labels[:limit]


def in_chunks(
    fn: Callable[[torch.Tensor, Any], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor | None,
    chunk: int = CHUNK,
) -> torch.Tensor:
    """fn(x_chunk, y_chunk) over `chunk`-row slices, concatenated on the CPU."""
    parts = []
    for start in range(0, len(x), chunk):
        ys = None if y is None else y[start : start + chunk]
        parts.append(fn(x[start : start + chunk], ys).detach().cpu())
    return torch.cat(parts)


def eval_generator(model: Any) -> torch.Generator:
    """A generator of its own on the model's device, seeded with EVAL_SEED: every stochastic
    estimate draws the same noise at every evaluation, and training's stream is untouched."""
    return torch.Generator(device=model.device).manual_seed(EVAL_SEED)


def present(key: str, value: torch.Tensor | None) -> dict[str, torch.Tensor]:
    return {} if value is None else {key: value}


# ---------------------------------------------------------------- the data's own tensors


@PROBES.register("heldout")
class Heldout(Probe):
    description = "the held-out split in data space (what reconstructions are compared with)"
    keys = ("heldout",)

    def run(self, model: Any, splits: DataSplits, spec: EvalSpec) -> dict[str, torch.Tensor]:
        return {"heldout": splits.heldout}


@PROBES.register("labels")
class Labels(Probe):
    description = "the held-out split's class labels (none when the data has none)"
    keys = ("labels",)

    def run(self, model: Any, splits: DataSplits, spec: EvalSpec) -> dict[str, torch.Tensor]:
        return present("labels", splits.heldout_labels)


@PROBES.register("factors")
class Factors(Probe):
    description = "the held-out split's factor indices (N, K) (data with known factors only)"
    keys = ("factors",)

    def run(self, model: Any, splits: DataSplits, spec: EvalSpec) -> dict[str, torch.Tensor]:
        return present("factors", splits.heldout_factors)


# ---------------------------------------------------------------- what the model says


@PROBES.register("reconstructions")
class Reconstructions(Probe):
    description = f"reconstructions of the first {MAX_IMAGES} held-out points (labels given)"
    needs = Reconstructs
    keys = ("reconstructions",)

    def run(self, model: Any, splits: DataSplits, spec: EvalSpec) -> dict[str, torch.Tensor]:
        x, y = heldout(splits)
        recon = in_chunks(lambda xs, ys: model.reconstruct(xs, ys).cpu().float(), x, y)
        return {"reconstructions": recon}


@PROBES.register("elbo")
class ElboTerms(Probe):
    description = (
        f"per image (reconstruction NLL, KL) of one posterior draw, first {MAX_IMAGES} held-out "
        f"points, then the importance-sampled NLL (k={NLL_SAMPLES}) of the first {NLL_IMAGES}"
    )
    needs = Variational
    keys = ("neg_elbo", "importance_nll")

    def run(self, model: Any, splits: DataSplits, spec: EvalSpec) -> dict[str, torch.Tensor]:
        x, y = heldout(splits)
        gen = eval_generator(model)  # one stream: the NLL's draws follow the ELBO's

        def neg_elbo(xs: torch.Tensor, ys: torch.Tensor | None) -> torch.Tensor:
            return torch.stack(model.neg_elbo(xs, gen, ys), dim=1)

        with inference(model):
            parts = in_chunks(neg_elbo, x, y)
        n = min(NLL_IMAGES, len(x))
        nll = model.importance_nll(x[:n], NLL_SAMPLES, gen, None if y is None else y[:n])
        return {"neg_elbo": parts, "importance_nll": nll.detach().cpu()}


@PROBES.register("posterior_means")
class PosteriorMeans(Probe):
    description = f"posterior means E_q[z | x] of the first {MAX_IMAGES} held-out points"
    needs = Variational
    keys = ("posterior_means",)

    def run(self, model: Any, splits: DataSplits, spec: EvalSpec) -> dict[str, torch.Tensor]:
        x, y = heldout(splits)
        with inference(model):
            means = in_chunks(lambda xs, ys: model.encode(xs, ys)[0], x, y)
        return {"posterior_means": means}


@PROBES.register("codes")
class Codes(Probe):
    description = "codes (posterior means for VAEs) of every held-out point (labels given)"
    needs = Encodes
    keys = ("codes",)

    def run(self, model: Any, splits: DataSplits, spec: EvalSpec) -> dict[str, torch.Tensor]:
        x, y = heldout(splits, limit=None)
        return {"codes": in_chunks(model.codes, x, y)}


@PROBES.register("anomaly_scores")
class AnomalyScores(Probe):
    """Higher = more anomalous: -ELBO for models with one (one draw, EVAL_SEED), per-image
    squared reconstruction error otherwise. Labels are withheld: a test image of an unseen class
    comes without one."""

    description = "per held-out point: -ELBO (VAEs) or squared reconstruction error, no labels"
    needs = Reconstructs
    keys = ("anomaly_scores",)

    def run(self, model: Any, splits: DataSplits, spec: EvalSpec) -> dict[str, torch.Tensor]:
        x, _ = heldout(splits, limit=None)
        if isinstance(model, Variational):
            gen = eval_generator(model)
            scores = in_chunks(lambda xs, _: -model.elbo(xs, gen), x, None)
        else:
            scores = in_chunks(lambda xs, _: squared_error(model, xs), x, None)
        return {"anomaly_scores": scores}


def squared_error(model: Any, x: torch.Tensor) -> torch.Tensor:
    """(B,) per-image squared reconstruction error of unlabelled inputs."""
    return per_image_squared_error(model.reconstruct(x, None).cpu().float(), x)


@PROBES.register("cycle_reconstructions")
class CycleReconstructions(Probe):
    description = "every held-out pair's images translated to the other domain and back"
    needs = Translates
    keys = ("cycled_a", "cycled_b")

    def run(self, model: Any, splits: DataSplits, spec: EvalSpec) -> dict[str, torch.Tensor]:
        x, _ = heldout(splits, limit=None)
        cycled: dict[str, list[torch.Tensor]] = {"cycled_a": [], "cycled_b": []}
        with inference(model):
            for chunk in torch.split(x, PAIR_CHUNK):
                a = domain_a(chunk).to(model.device, torch.float32)
                b = domain_b(chunk).to(model.device, torch.float32)
                cycled["cycled_a"].append(model.translate_back(model.translate(a)).cpu())
                cycled["cycled_b"].append(model.translate(model.translate_back(b)).cpu())
        return {key: torch.cat(parts) for key, parts in cycled.items()}
