"""Probes: what the evaluator measures with the model before the metrics run. One rule decides
which metrics apply to which model class (the planner and the evaluator share it); each probe
runs once per evaluation however many metrics read it; a probe that fails takes only its own
metrics down; and disentanglement works end to end on `shapes`."""

from __future__ import annotations

import math
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
import torch

from bench.data import DataSplits, EvalSpec
from bench.metrics import METRICS, EvalInputs, Metric, MetricInputError
from bench.models import MODELS, Batch, GenerativeModel
from bench.models.abilities import Reconstructs
from bench.probes import NEEDS_MODEL, PROBES, Probe, probes_of, run_probes, unmeasurable
from bench.suite.plan import Planner
from bench.trial.evaluate import Evaluator, prepare_dataset


def test_every_metric_names_registered_probes_and_probe_keys_are_unique() -> None:
    for name, metric in METRICS:
        for probe in metric.probes:
            assert probe in PROBES, f"metric {name} reads the unknown probe {probe}"
    keys = [key for _, probe in PROBES for key in probe.keys]
    assert len(keys) == len(set(keys))
    for _, probe in PROBES:
        needs = probe.needs if isinstance(probe.needs, tuple) else (probe.needs,)
        assert all(a is None or getattr(a, "_is_runtime_protocol", False) for a in needs)


def test_without_a_model_only_metrics_that_call_it_are_refused() -> None:
    assert unmeasurable(METRICS.get("reconstruction"), None) == NEEDS_MODEL
    assert unmeasurable(METRICS.get("disentanglement"), None) == NEEDS_MODEL
    assert unmeasurable(METRICS.get("fid"), None) is None
    assert unmeasurable(METRICS.get("translation"), None) is None


def test_a_refusal_names_the_probe_the_methods_and_the_class() -> None:
    reason = unmeasurable(METRICS.get("elbo"), MODELS.get("ae"))
    assert reason is not None
    for part in ("'elbo'", "`neg_elbo`", "`importance_nll`", "Variational", "Ae has no"):
        assert part in reason
    assert unmeasurable(METRICS.get("elbo"), MODELS.get("cvae")) is None
    assert "labels" in unmeasurable(METRICS.get("anomaly"), MODELS.get("cvae"))


def test_the_planner_keeps_exactly_the_metrics_the_rule_allows() -> None:
    names = tuple(METRICS.names())
    for model, cls in MODELS:
        entry = SimpleNamespace(ref=SimpleNamespace(name=model))
        kept = Planner.for_model(entry, names)  # type: ignore[arg-type]
        assert kept == tuple(n for n in names if unmeasurable(METRICS.get(n), cls) is None)
    ae = Planner.for_model(SimpleNamespace(ref=SimpleNamespace(name="ae")), names)  # type: ignore[arg-type]
    assert "reconstruction" in ae and "elbo" not in ae and "cycle" not in ae


def test_probes_are_listed_once_in_the_order_metrics_name_them() -> None:
    metrics = [METRICS.get(n) for n in ("reconstruction", "cycle", "anomaly", "elbo")]
    assert probes_of(metrics) == [
        "heldout",
        "reconstructions",
        "cycle_reconstructions",
        "anomaly_scores",
        "labels",
        "elbo",
    ]


def test_run_probes_refuses_models_without_the_ability_instead_of_crashing() -> None:
    splits = DataSplits(train=torch.zeros(4, 2), heldout=torch.zeros(3, 2))
    tensors, failed = run_probes(["heldout", "reconstructions"], object(), splits, SPEC)
    assert set(tensors) == {"heldout"}
    assert "`reconstruct`" in failed["reconstructions"]
    tensors, failed = run_probes(["labels", "factors", "codes"], None, splits, SPEC)
    assert tensors == {} and failed == {"codes": NEEDS_MODEL}


def test_an_empty_heldout_split_fails_the_model_probes_with_the_reason() -> None:
    splits = DataSplits(train=torch.zeros(4, 2), heldout=torch.zeros(0, 2))
    _, failed = run_probes(["reconstructions"], Identity(), splits, SPEC)
    assert failed == {"reconstructions": "the held-out split is empty"}


# ---------------------------------------------------------------- the evaluator runs them

SPEC = EvalSpec(feature_space="raw")


class Identity(torch.nn.Module):
    """Reconstructs perfectly (an ability without a GenerativeModel base class)."""

    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return x.clone()


class Counting(Probe):
    keys = ("count",)
    needs = Reconstructs
    calls: ClassVar[list[int]] = []

    def run(self, model: Any, splits: DataSplits, spec: EvalSpec) -> dict[str, torch.Tensor]:
        self.calls.append(1)
        if len(splits.heldout) < 10:
            raise MetricInputError("too few held-out points to count")
        return {"count": torch.tensor(float(len(splits.heldout)))}


class ReadsCount(Metric):
    directions = {"count": "max"}
    probes = ("counting",)

    def compute(self, inputs: EvalInputs, prepared: Any = None) -> dict[str, float]:
        return {"count": inputs.probes["count"].item()}


class ReadsCountTwice(ReadsCount):
    directions = {"count_twice": "max"}

    def compute(self, inputs: EvalInputs, prepared: Any = None) -> dict[str, float]:
        return {"count_twice": 2 * inputs.probes["count"].item()}


@pytest.fixture
def counting() -> Iterator[list[int]]:
    PROBES.register("counting")(Counting)
    METRICS.register("reads_count")(ReadsCount)
    METRICS.register("reads_count_twice")(ReadsCountTwice)
    Counting.calls.clear()
    yield Counting.calls
    PROBES.remove("counting")
    METRICS.remove("reads_count")
    METRICS.remove("reads_count_twice")


def ring(n_samples: int = 600):
    return prepare_dataset("ring8", {"n_samples": n_samples}, "ring8", n_reference=100)


def test_a_probe_two_metrics_read_runs_once_per_evaluation(counting: list[int]) -> None:
    assets = ring()
    names = ["reads_count", "modes", "reads_count_twice"]
    evaluator = Evaluator(assets, names, n_samples=0, device=torch.device("cpu"))
    result = evaluator.measure(assets.splits.heldout, model=Identity())  # type: ignore[arg-type]
    n = len(assets.splits.heldout)
    assert counting == [1]
    assert result.values["count"] == n and result.values["count_twice"] == 2 * n
    assert result.values["modes"] == 8


def test_a_failing_probe_takes_down_only_the_metrics_that_read_it(counting: list[int]) -> None:
    assets = ring()
    assets.splits = DataSplits(train=assets.splits.train, heldout=assets.splits.heldout[:5])
    names = ["reads_count", "modes", "reads_count_twice"]
    evaluator = Evaluator(assets, names, n_samples=0, device=torch.device("cpu"))
    result = evaluator.measure(assets.splits.train[:300], model=Identity())  # type: ignore[arg-type]
    assert result.not_computable == {
        "reads_count": "too few held-out points to count",
        "reads_count_twice": "too few held-out points to count",
    }
    assert "modes" in result.values
    without = evaluator.measure(assets.splits.train[:300])
    assert without.not_computable["reads_count"] == NEEDS_MODEL and "modes" in without.values


def trained(name: str, dataset: str, steps: int = 60, **hparams: object) -> GenerativeModel:
    from bench.data import DATASETS

    torch.manual_seed(0)
    data = DATASETS.get(dataset)()
    cls = MODELS.get(name)
    model = cls(cls.HParams(**hparams), data.info)
    splits = data.load()
    gen = torch.Generator().manual_seed(0)
    for _ in range(steps):
        idx = torch.randint(len(splits.train), (64,), generator=gen)
        model.train_step(Batch(splits.train[idx]))
    return model


def test_the_evaluator_hands_metrics_what_the_probes_measured() -> None:
    assets = prepare_dataset("ring8", {"n_samples": 600}, "ring8", n_reference=100)
    model = trained("vae", "ring8", hidden=16, layers=1)
    names = ["reconstruction", "elbo", "active_units"]
    evaluator = Evaluator(assets, names, n_samples=200, device=torch.device("cpu"))
    result = evaluator(model, step=60, seed=0)
    tensors, failed = run_probes(
        probes_of(METRICS.get(n) for n in names), model, assets.splits, assets.spec
    )
    assert not failed
    x = assets.splits.heldout
    recon = tensors["reconstructions"]
    assert result.values["recon_mse"] == (recon - x[: len(recon)]).pow(2).mean(-1).mean().item()
    assert result.values["elbo"] == -tensors["neg_elbo"].sum(1).mean().item()
    assert result.values["nll"] == tensors["importance_nll"].mean().item()


def test_disentanglement_end_to_end_on_shapes() -> None:
    assets = prepare_dataset("shapes", {}, "shapes", n_reference=200)
    model = trained("beta_vae", "shapes", steps=30, hidden=32, layers=1)
    evaluator = Evaluator(
        assets, ["disentanglement", "active_units"], n_samples=200, device=torch.device("cpu")
    )
    result = evaluator(model, step=30, seed=0)
    assert result.not_computable == {}
    expected = set(METRICS.get("disentanglement").directions) | {"active_units"}
    assert set(result.values) == expected
    assert all(math.isfinite(v) for v in result.values.values())
    codes = run_probes(["codes"], model, assets.splits, assets.spec)[0]["codes"]
    assert codes.shape == (len(assets.splits.heldout), model.hparams.latent_dim)


@pytest.mark.parametrize(("model", "dataset"), [("cvae", "digits"), ("cyclegan", "mnist_pairs")])
def test_every_probe_a_model_can_run_returns_its_declared_keys(model: str, dataset: str) -> None:
    from bench.data import DATASETS

    data = DATASETS.get(dataset)()
    cls = MODELS.get(model)
    m = cls(cls.HParams(), data.info)
    splits = data.load()
    splits = DataSplits(splits.train, splits.heldout[:64], None, splits.heldout_labels[:64])
    runnable = [name for name, probe in PROBES if probe.needs is None or isinstance(m, probe.needs)]
    # a probe only metrics that refuse this model read (a conditional model and the metrics of
    # unlabelled data) is never run on it: those probes withhold the labels it needs
    users = {name: [metric for _, metric in METRICS if name in metric.probes] for name in runnable}
    runnable = [
        name
        for name in runnable
        if not users[name] or any(metric.applies_to_model(cls) is None for metric in users[name])
    ]
    assert len(runnable) > 3
    for name in runnable:
        probe = PROBES.get(name)
        out = probe.run(m, splits, data.eval_spec)
        assert set(out) <= set(probe.keys), name
        assert all(t.device.type == "cpu" for t in out.values()), name
        assert m.training  # probes leave the model's mode as they found it
