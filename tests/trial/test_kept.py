"""Kept models: each trial leaves its final state and its state at its best evaluation, and both
load from config.json alone into a model that samples exactly as the trial's did."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from bench.data import DATASETS
from bench.suite import expand, parse_suite
from bench.trial.evaluate import Evaluator, generate, prepare_dataset
from bench.trial.kept import KEPT_FILES, Keeper, load_kept, open_kept
from bench.trial.train import run_trial
from tests.results.runs import KEPT_SUITE, run_in_process


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return run_in_process(tmp_path_factory.mktemp("kept"), KEPT_SUITE.format(extra=""))


def trial_dirs(run):
    return sorted((run / "trials").iterdir())


def test_every_trial_keeps_its_final_and_best_model_on_record(run) -> None:
    for folder in trial_dirs(run):
        metrics = json.loads((folder / "metrics.json").read_text())
        assert set(metrics["kept"]) == {"final", "best"}
        for which, name in KEPT_FILES.items():
            assert metrics["kept"][which]["file"] == name and (folder / name).is_file()
            stored = torch.load(folder / name, weights_only=True)
            assert set(stored) == {"state_dict", "step", "metric", "value", "trial_id"}
            assert stored["trial_id"] == folder.name and stored["metric"] == "fid"
        final = metrics["kept"]["final"]
        assert final["step"] == 20 and final["value"] == metrics["final"]["fid"]
        fids = {e["step"]: e["metrics"]["fid"] for e in metrics["evaluations"]}
        best = metrics["kept"]["best"]
        assert best["value"] == min(fids.values()) == fids[best["step"]]


def test_a_kept_model_loads_from_config_alone_and_samples_as_the_trial_did(run, monkeypatch):
    """The trial's own model, captured at its end, and the one loaded from its folder (with the
    dataset module unable to load any data) draw the same samples, bit for bit."""
    import bench.trial.train as train

    folder = next(f for f in trial_dirs(run) if f.name.startswith("ae-"))
    trial, _ = load_kept(folder)
    built = []
    original = train.build_model
    monkeypatch.setattr(train, "build_model", lambda *a: built.append(original(*a)) or built[-1])
    assets = prepare_dataset("ring8", {}, "ring8", 200)
    run_trial(trial, assets, lambda payload: None)
    (model,) = built

    def no_data(self):
        raise AssertionError("loading a kept model must not load the dataset")

    monkeypatch.setattr(DATASETS.get("ring8"), "load", no_data)
    _, loaded = load_kept(folder, "final")
    assert torch.equal(generate(loaded, 300, seed=11), generate(model, 300, seed=11))
    assert type(loaded) is type(model) and not loaded.training


def test_the_best_model_is_the_one_that_drew_its_evaluation(monkeypatch, tmp_path) -> None:
    """A scripted FID makes the middle evaluation the best: the kept best is that step's model
    (its sampler fitted), not the last one, and it draws that evaluation's very samples."""
    drawn: dict[int, torch.Tensor] = {}
    scripted = {10: 0.5, 20: 0.2, 30: 0.4}
    real_call = Evaluator.__call__

    def scripted_call(self, model, step, seed):
        evaluation = real_call(self, model, step, seed)
        drawn[step] = generate(model, self.n_samples, seed)
        evaluation.values["fid"] = scripted[step]
        return evaluation

    monkeypatch.setattr(Evaluator, "__call__", scripted_call)
    text = KEPT_SUITE.format(extra="").replace("steps: 20,", "steps: 30,")
    run = run_in_process(
        tmp_path, text.replace("  - {name: gan, hparams: {hidden: 16, batch_size: 32}}\n", "")
    )
    (folder,) = trial_dirs(run)
    trial, best, kept = open_kept(folder, "best")
    assert kept == {"step": 20, "metric": "fid", "value": 0.2, "trial_id": trial.trial_id}
    assert torch.equal(generate(best, 200, trial.seed), drawn[20])
    _, final = load_kept(folder, "final")
    assert torch.equal(generate(final, 200, trial.seed), drawn[30])
    board = (run / "leaderboard.md").read_text()
    assert "| best fid ↓ (step) |" in board and "| 0.2 (20) |" in board


@pytest.mark.parametrize(("keep", "files"), [("none", set()), ("best", {"model_best.pt"})])
def test_keep_decides_which_models_are_written(tmp_path, keep, files) -> None:
    run = run_in_process(tmp_path, KEPT_SUITE.format(extra=f"keep: {keep}"))
    for folder in trial_dirs(run):
        assert {p.name for p in folder.glob("model_*.pt")} == files
        metrics = json.loads((folder / "metrics.json").read_text())
        assert set(metrics["kept"]) == {KEPT_KINDS[f] for f in files}
        assert json.loads((folder / "config.json").read_text())["budget"]["keep"] == keep


KEPT_KINDS = {name: kind for kind, name in KEPT_FILES.items()}


def test_keep_both_is_the_default_and_left_out_of_configs() -> None:
    suite = parse_suite(KEPT_SUITE.format(extra=""))
    assert suite.keep == "both"
    assert all("keep" not in t.budget for t in expand(suite))


def test_a_model_entry_may_keep_differently_from_its_suite() -> None:
    text = KEPT_SUITE.format(extra="keep: none").replace(
        "latent_dim: 2}}", "latent_dim: 2}, budget: {keep: final}}"
    )
    keeps = {t.model: t.budget["keep"] for t in expand(parse_suite(text))}
    assert keeps == {"gan": "none", "ae": "final"}


def test_a_wrong_keep_is_refused_with_its_choices() -> None:
    from bench.errors import SuiteError

    with pytest.raises(SuiteError) as caught:
        parse_suite(KEPT_SUITE.format(extra="keep: all"))
    assert "keep" in str(caught.value) and "'both'" in str(caught.value)


def test_the_keeper_ranks_by_the_first_reported_key_and_keeps_the_earliest_tie() -> None:
    (trial,) = expand(
        parse_suite(
            KEPT_SUITE.format(extra="").replace(
                "  - {name: ae, hparams: {hidden: 16, batch_size: 32, latent_dim: 2}}\n", ""
            )
        )
    )
    keeper = Keeper(trial)
    model = torch.nn.Linear(1, 1)
    from bench.trial.evaluate import Evaluation

    def show(step: int, **values: float) -> None:
        keeper.consider(Evaluation(step, values=values), model)

    show(10, modes=7.0)  # FID not computable: ranked by the next key for now
    show(20, modes=8.0)
    assert keeper.best["metric"] == "modes" and keeper.best["step"] == 20
    show(30, fid=0.5, modes=1.0)  # the leaderboard's first key outranks any modes
    show(40, fid=0.5)
    show(50, fid=float("nan"))
    assert (keeper.best["metric"], keeper.best["step"], keeper.best["value"]) == ("fid", 30, 0.5)


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        ({"model": "ae"}, "hparams.backbone: Extra inputs are not permitted"),  # a gan's hparams
        ({"hparams": "big"}, "hparams should be a mapping"),
        ({"hparams": {"hidden": -4}}, "hparams.hidden: Input should be greater than or equal to 1"),
        ({"dataset_params": {"n_samples": "many"}}, "dataset_params.n_samples: Input should be"),
    ],
)
def test_a_config_whose_parameters_do_not_fit_its_model_is_refused(run, tmp_path, edit, named):
    """An edited config.json (or one of another bench version) through `bench sample`: exit 2
    naming the file and the fields, never a pydantic traceback."""
    from typer.testing import CliRunner

    from bench.cli import EXIT_USAGE, app

    source = next(f for f in trial_dirs(run) if f.name.startswith("gan-"))
    folder = shutil.copytree(source, tmp_path / "trials" / source.name)
    config = json.loads((folder / "config.json").read_text())
    if "hparams" in edit and isinstance(edit["hparams"], dict):
        edit = {"hparams": {**config["hparams"], **edit["hparams"]}}
    (folder / "config.json").write_text(json.dumps({**config, **edit}))
    out = tmp_path / "out.npz"
    result = CliRunner().invoke(app, ["sample", str(folder), "-n", "4", "-o", str(out)])
    assert result.exit_code == EXIT_USAGE and isinstance(result.exception, SystemExit)
    said = "".join(result.output.split())  # the error console wraps at 80 columns
    assert "config.json:" in said and "".join(named.split()) in said, result.output
    assert "Traceback" not in result.output and not out.exists()
