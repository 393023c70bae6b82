"""Translation metrics on paired-domain data (bench.data.paired), where the true A -> B map T is
known: how far a translation lies from the true counterpart, and how well a cycle of two
translators returns its input. Realism in the target domain is FID in the dataset's
`paired_target` feature space; these add what FID cannot see (a realistic B digit that is the
wrong digit, or the right digit drawn differently, scores well on FID)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from bench.data.base import DataInfo, EvalSpec
from bench.data.paired import TRANSFORMS, domain_a, domain_b
from bench.metrics.base import METRICS, EvalInputs, Metric, MetricInputError

if TYPE_CHECKING:
    from bench.models.base import GenerativeModel

CHUNK = 500  # held-out images per cycle forward pass
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


def cycle_error(model: GenerativeModel, pairs: torch.Tensor) -> dict[str, float]:
    """Mean |F(G(a)) - a| and |G(F(b)) - b| over paired images (N, 2, H, W), where the model's
    `cycle_reconstruct(a, b)` returns (F(G(a)), G(F(b)))."""
    x = check_pairs("cycle", pairs)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            totals = cycle_sums(model, x)
    finally:
        model.train(was_training)
    pixels = x[:, :1].numel()
    return {key: total / pixels for key, total in totals.items()}


def cycle_sums(model: GenerativeModel, x: torch.Tensor) -> dict[str, float]:
    totals = {"cycle_a": 0.0, "cycle_b": 0.0}
    for chunk in torch.split(x, CHUNK):
        a, b = (t.to(model.device, torch.float32) for t in (domain_a(chunk), domain_b(chunk)))
        a_rec, b_rec = model.cycle_reconstruct(a, b)
        totals["cycle_a"] += float((a_rec - a).abs().double().sum())
        totals["cycle_b"] += float((b_rec - b).abs().double().sum())
    return totals


@METRICS.register("cycle")
class Cycle(Metric):
    order = 9
    description = "cycle-reconstruction L1 error A->B->A and B->A->B on the held-out pairs"
    directions = {"cycle_a": "min", "cycle_b": "min"}

    def applies(self, spec: EvalSpec, info: DataInfo) -> str | None:
        return None if info.pairing is not None else NOT_PAIRED

    def applies_to_model(self, model: type[GenerativeModel]) -> str | None:
        if callable(getattr(model, "cycle_reconstruct", None)):
            return None
        return "needs a model with two translators (cycle_reconstruct), such as cyclegan"

    def compute(self, inputs: EvalInputs, prepared: Any = None) -> dict[str, float]:
        if inputs.model is None or inputs.data is None:
            raise MetricInputError("cycle: needs the model and the held-out data")
        return cycle_error(inputs.model, inputs.data.heldout)
