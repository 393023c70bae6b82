"""bench.probes as a package: every module registers its probes on import (a new use is one new
file), the names the rest of bench imports are where they were, a probe may accept any of a few
abilities, and what a probe `embeds` reaches the metrics in the feature space."""

from __future__ import annotations

import ast
import pkgutil
import textwrap
from pathlib import Path

import pytest
import torch

import bench.probes
from bench.data.base import DataSplits, EvalSpec
from bench.errors import SuiteError
from bench.metrics import METRICS, Features
from bench.models import MODELS
from bench.probes import (
    NEEDS_FEATURES,
    NEEDS_MODEL,
    PROBES,
    Probe,
    probes_of,
    run_probes,
    unmeasurable,
)
from bench.suite import parse_suite
from tests.metrics.test_lazy_imports import HEAVY, module_level_imports

PACKAGE = Path(bench.probes.__file__).parent


def test_every_module_of_the_package_is_imported_and_registers_its_probes() -> None:
    modules = {m.name for m in pkgutil.iter_modules(bench.probes.__path__)}
    assert {"data", "autoencoding", "translation", "inpainting", "interpolation"} <= modules
    homes = {type(probe).__module__.rpartition(".")[2] for _, probe in PROBES}
    assert homes == {
        "data",
        "autoencoding",
        "translation",
        "inpainting",
        "interpolation",
        "likelihood",
    }
    assert {"heldout", "reconstructions", "cycle_reconstructions", "inpainting", "path_steps"} <= (
        set(PROBES.names())
    )
    assert callable(probes_of) and issubclass(PROBES.get("codes").__class__, Probe)


def test_a_probe_that_accepts_any_of_several_abilities_names_them_all() -> None:
    reason = unmeasurable(METRICS.get("inpainting"), MODELS.get("cyclegan"))
    assert reason is not None
    for part in ("'inpainting'", "(Inpaints)", "(Generates)", "(Reconstructs)", "`inpaint`"):
        assert part in reason
    assert unmeasurable(METRICS.get("inpainting"), MODELS.get("ddpm")) is None
    assert unmeasurable(METRICS.get("inpainting"), MODELS.get("pca")) is None
    assert unmeasurable(METRICS.get("anomaly"), MODELS.get("wgan_gp")) is None
    assert unmeasurable(METRICS.get("inpainting"), None) == NEEDS_MODEL


class Squares(Probe):
    keys = ("grid", "grid_features", "grid_logits")
    embeds = ("grid",)

    def run(self, model, splits, spec):
        return {"grid": splits.heldout[:6].reshape(2, 3, 2)}


def logits_of(x: torch.Tensor) -> Features:
    return Features(features=x.double() * 2, logits=x.sum(1, keepdim=True).double())


def test_embedded_tensors_keep_their_leading_dimensions(monkeypatch) -> None:
    monkeypatch.setitem(PROBES._entries, "squares", Squares())
    splits = DataSplits(train=torch.zeros(4, 2), heldout=torch.arange(20.0).reshape(10, 2))
    tensors, failed = run_probes(["squares"], None, splits, EvalSpec("raw"), logits_of)
    assert failed == {}
    assert tensors["grid_features"].shape == (2, 3, 2)
    assert torch.equal(tensors["grid_features"][1, 2], torch.tensor([20.0, 22.0]).double())
    assert tensors["grid_logits"].shape == (2, 3, 1)
    _, failed = run_probes(["squares"], None, splits, EvalSpec("raw"))
    assert failed == {"squares": NEEDS_FEATURES}


def test_inpainting_on_points_is_refused_when_the_suite_is_validated() -> None:
    text = textwrap.dedent(
        """\
        name: s
        seeds: [0]
        budget: {steps: 10, eval_every: 10, eval_samples: 100}
        datasets: [ring8]
        models: [{name: ae}]
        metrics: [inpainting]
        """
    )
    with pytest.raises(SuiteError) as info:
        parse_suite(text, source="s.yaml")
    message = info.value.message()
    assert "s.yaml:6 (metrics[0])" in message
    assert "metric 'inpainting' applies to none of this suite's datasets" in message
    assert "ring8: in-painting fills in missing pixels of images" in message


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_no_probe_module_imports_a_heavy_library_at_module_level(path: Path) -> None:
    heavy = [
        f"{path.name}:{line} imports {module}"
        for line, module in module_level_imports(ast.parse(path.read_text()))
        if module.split(".")[0] in HEAVY
    ]
    assert heavy == []
