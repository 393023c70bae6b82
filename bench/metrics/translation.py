"""Translation metrics on paired-domain data (bench.data.paired), where the true A -> B map T is
known: how far a translation lies from the true counterpart, and how well a cycle of two
translators returns its input. Realism in the target domain is FID in the dataset's
`paired_target` feature space; these add what FID cannot see (a realistic B digit that is the
wrong digit, or the right digit drawn differently, scores well on FID).

Both are pure functions of tensors: `translation` reads the samples (pairs [a, G(a)]), `cycle`
the held-out pairs and the model's round trips of them, which the evaluator's
"cycle_reconstructions" probe (bench/probes/) measured with a model that `Translates`."""

from __future__ import annotations

from typing import Any

import torch

from bench.data.base import DataInfo, EvalSpec
from bench.data.paired import TRANSFORMS, domain_a, domain_b
from bench.metrics.base import METRICS, EvalInputs, Metric, MetricInputError

CHUNK = 500  # held-out images per forward pass (probe) and per float64 sum (metric)
NOT_PAIRED = "needs paired-domain data with a known transform, such as mnist_pairs"


def check_pairs(name: str, x: torch.Tensor) -> torch.Tensor:
    """`x` as a finite floating (N, 2, H, W) CPU tensor, or a MetricInputError saying what is
    wrong. The precision is kept: T(a) computed at the samples' own precision matches data built
    the same way exactly, so a perfect translator scores exactly 0."""
    t = torch.as_tensor(x).detach().cpu()
    t = t if t.is_floating_point() else t.double()
    if t.dim() != 4 or t.shape[1] != 2 or len(t) == 0:
        raise MetricInputError(
            f"{name}: samples must be non-empty paired images (N, 2, H, W), got {tuple(t.shape)}"
        )
    if not torch.isfinite(t).all():
        raise MetricInputError(f"{name}: samples hold NaN or inf")
    return t


def translation_error(samples: torch.Tensor, transform: str) -> dict[str, float]:
    """Per-pixel error of each sample's channel 1 (the translation) against the known transform of
    its channel 0 (the source): mean absolute and mean squared difference. 0 for a perfect
    translator; for one that copies its input, the mean |a - T(a)| of the data."""
    x = check_pairs("translation", samples)
    if transform not in TRANSFORMS:
        raise MetricInputError(
            f"translation: unknown transform '{transform}' (known: {', '.join(TRANSFORMS)})"
        )
    diff = (domain_b(x) - TRANSFORMS[transform](domain_a(x))).double()
    return {
        "translation_l1": float(diff.abs().mean()),
        "translation_mse": float(diff.pow(2).mean()),
    }


@METRICS.register("translation")
class Translation(Metric):
    order = 8
    description = "per-pixel error of translations against the known A -> B transform (L1, MSE)"
    directions = {"translation_l1": "min", "translation_mse": "min"}

    def applies(self, spec: EvalSpec, info: DataInfo) -> str | None:
        return None if info.pairing is not None else NOT_PAIRED

    def compute(self, inputs: EvalInputs, prepared: Any = None) -> dict[str, float]:
        assert inputs.info.pairing is not None  # see applies()
        return translation_error(inputs.samples, inputs.info.pairing)


def cycle_error(
    pairs: torch.Tensor, cycled_a: torch.Tensor, cycled_b: torch.Tensor
) -> dict[str, float]:
    """Mean |F(G(a)) - a| and |G(F(b)) - b| per pixel over paired images `pairs` (N, 2, H, W),
    given each domain's image translated to the other domain and back, F(G(a)) and G(F(b))
    (each (N, 1, H, W)). Summed in float64 over CHUNK images at a time."""
    x = check_pairs("cycle", pairs)
    for name, cycled in (("F(G(a))", cycled_a), ("G(F(b))", cycled_b)):
        if cycled.shape != x[:, :1].shape:
            raise MetricInputError(
                f"cycle: {name} has shape {tuple(cycled.shape)}, the pairs' domain images "
                f"{tuple(x[:, :1].shape)}"
            )
    totals = {
        "cycle_a": absolute_sum(cycled_a, domain_a(x)),
        "cycle_b": absolute_sum(cycled_b, domain_b(x)),
    }
    pixels = x[:, :1].numel()
    return {key: total / pixels for key, total in totals.items()}


def absolute_sum(estimate: torch.Tensor, target: torch.Tensor) -> float:
    """Sum of |estimate - target| in float32 differences, float64 sums, CHUNK rows at a time."""
    total = 0.0
    for est, tgt in zip(torch.split(estimate, CHUNK), torch.split(target, CHUNK), strict=True):
        total += float((est.float() - tgt.float()).abs().double().sum())
    return total


@METRICS.register("cycle")
class Cycle(Metric):
    order = 9
    description = "cycle-reconstruction L1 error A->B->A and B->A->B on the held-out pairs"
    directions = {"cycle_a": "min", "cycle_b": "min"}
    probes = ("heldout", "cycle_reconstructions")

    def applies(self, spec: EvalSpec, info: DataInfo) -> str | None:
        return None if info.pairing is not None else NOT_PAIRED

    def compute(self, inputs: EvalInputs, prepared: Any = None) -> dict[str, float]:
        missing = {"heldout", "cycled_a", "cycled_b"} - set(inputs.probes)
        if missing:
            raise MetricInputError(
                f"cycle: needs the probe tensors {sorted(missing)} (the held-out pairs and the "
                "model's round trips of them, measured by the evaluator)"
            )
        probes = inputs.probes
        return cycle_error(probes["heldout"], probes["cycled_a"], probes["cycled_b"])
