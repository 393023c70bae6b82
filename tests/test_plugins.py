"""Adding a model is one file: a module in a package of its own, declared in the `bench.plugins`
entry-point group, is registered and runs in a suite like bench's own models (no edit of bench)."""

from __future__ import annotations

import sys
import textwrap

import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.data import DATASETS
from bench.models import MODELS
from bench.plugins import ENTRY_POINT_GROUP, import_plugins, plugin_modules
from bench.suite import parse_suite
from bench.trial.evaluate import prepare_dataset
from bench.trial.train import COMPLETED, run_trial

MODEL_FILE = '''
"""A whole model in one file: a Gaussian fitted by gradient descent."""
import torch
from bench.models.base import MODELS, Diagnostic, GenerativeModel


@MODELS.register("t_gaussian")
class Gaussian(GenerativeModel):
    description = "test plugin: one Gaussian with a learned mean and scale"
    family = "autoencoder"
    diagnostics = {"loss": Diagnostic("Gaussian negative log-likelihood", "loss")}

    def __init__(self, hparams, info):
        super().__init__(hparams, info)
        self.mean = torch.nn.Parameter(torch.zeros(info.shape))
        self.log_std = torch.nn.Parameter(torch.zeros(info.shape))
        self.opt = torch.optim.Adam(self.parameters(), lr=hparams.lr)

    def train_step(self, batch):
        z = (batch.x - self.mean) / self.log_std.exp()
        loss = (0.5 * z.pow(2) + self.log_std).mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return {"loss": loss.item()}

    def sample(self, n, generator=None):
        noise = torch.randn((n, *self.info.shape), generator=generator, device=self.device)
        return self.mean + self.log_std.exp() * noise
'''

SUITE = """\
name: plugged
seeds: [0]
budget: {steps: 30, eval_every: 30, eval_samples: 200}
datasets: [ring8]
models: [{name: t_gaussian, hparams: {lr: 0.05}}]
metrics: [fid, modes]
tracking: {wandb: disabled}
"""


@pytest.fixture
def installed_plugin(tmp_path, monkeypatch):
    """A package with one model module, 'installed' by a dist-info folder on sys.path that
    declares it in the bench.plugins entry-point group, as `pip install` would."""
    (tmp_path / "my_models").mkdir()
    (tmp_path / "my_models" / "__init__.py").write_text("")
    (tmp_path / "my_models" / "gaussian.py").write_text(textwrap.dedent(MODEL_FILE))
    info = tmp_path / "my_models-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-models\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nmodels = my_models.gaussian\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    if "t_gaussian" in MODELS:
        MODELS.remove("t_gaussian")
    sys.modules.pop("my_models.gaussian", None)


def test_a_model_in_one_file_is_registered_listed_and_run(installed_plugin):
    assert "my_models.gaussian" in plugin_modules()
    import_plugins()
    assert "t_gaussian" in MODELS.names()
    listed = CliRunner().invoke(app, ["list", "models"])
    assert listed.exit_code == 0 and "t_gaussian" in listed.output
    (trial,) = parse_suite(SUITE).trials
    reports: list = []
    assets = prepare_dataset("ring8", {}, "ring8", 200)
    assert run_trial(trial, assets, reports.append) == COMPLETED
    final = reports[-1].metrics
    assert final["fid"] >= 0 and "loss_cv" in final  # its declared loss feeds stability too


def test_a_registry_refuses_an_entry_of_the_wrong_type():
    from bench.errors import BenchError

    with pytest.raises(BenchError, match="not a subclass of bench.data.base.Dataset"):
        DATASETS.register("t_not_a_dataset")(dict)
    assert "t_not_a_dataset" not in DATASETS
