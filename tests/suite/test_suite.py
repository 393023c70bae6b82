"""Suite files: loading, validation messages (file:line, field, suggestion) and grid expansion."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from pydantic import Field, model_validator

from bench.data.base import DataInfo, EvalSpec
from bench.errors import SuiteError, SuiteErrors
from bench.metrics.base import METRICS, Metric
from bench.models.base import MODELS, GenerativeModel, HParams
from bench.suite import Suite, Trial, expand, load_suite, metrics_in_order, parse_suite

SUITES = Path(__file__).resolve().parents[1] / "suites"


class TinyGanParams(HParams):
    hidden: list[int] = Field([16, 16], description="widths of the hidden layers")
    depth: int = Field(2, ge=1, description="number of blocks")


class TinyGan(GenerativeModel):
    description = "test-only GAN for 2-D points"
    family = "gan"
    HParams = TinyGanParams

    @classmethod
    def incompatibility(cls, info: DataInfo) -> str | None:
        return None if info.kind == "points" else "it only handles 2-D points"


class TinyAeParams(HParams):
    latent_dim: int = Field(2, ge=1, description="size of the code")

    @model_validator(mode="after")
    def _code_fits_batch(self) -> TinyAeParams:
        if self.latent_dim > self.batch_size:
            raise ValueError("latent_dim must not exceed batch_size")
        return self


class TinyAe(GenerativeModel):
    description = "test-only autoencoder"
    family = "autoencoder"
    HParams = TinyAeParams


class Always(Metric):
    description = "test-only metric that applies everywhere"


class ModesOnly(Metric):
    description = "test-only metric that needs known modes"

    def applies(self, spec: EvalSpec, info: DataInfo) -> str | None:
        return None if spec.mode_centers is not None else "the dataset has no known mode centres"


@pytest.fixture(scope="module", autouse=True)
def test_registry() -> Iterator[None]:
    import bench.metrics  # noqa: F401  (the real entries first, as load_suite would)
    import bench.models  # noqa: F401

    MODELS.register("t_gan")(TinyGan)
    MODELS.register("t_ae")(TinyAe)
    METRICS.register("t_always")(Always)
    METRICS.register("t_modes")(ModesOnly)
    yield
    for name in ("t_gan", "t_ae"):
        MODELS.remove(name)
    for name in ("t_always", "t_modes"):
        METRICS.remove(name)


GOOD = """\
name: demo
seeds: [0, 1]
budget: {steps: 100, eval_every: 50}
datasets: [ring8, {name: grid25, params: {n_samples: 500}}]
models:
  - {name: t_gan, hparams: {lr: [1.0e-4, 2.0e-4], hidden: [8, 8]}}
  - {name: t_ae, label: small, hparams: {latent_dim: 3}}
metrics: [t_always, t_modes]
"""


def suite_text(**replace: str) -> str:
    """GOOD with whole top-level lines swapped: suite_text(seeds="seeds: abc")."""
    lines = GOOD.splitlines()
    for key, line in replace.items():
        index = next(i for i, text in enumerate(lines) if text.startswith(f"{key}:"))
        lines[index] = line
    return "\n".join(lines) + "\n"


def error_of(text: str) -> str:
    with pytest.raises(SuiteError) as info:
        parse_suite(textwrap.dedent(text), source="s.yaml")
    return info.value.message()


# ---------------------------------------------------------------------------------- good files


def test_parse_fills_defaults_and_bare_dataset_names() -> None:
    suite = parse_suite(GOOD)
    assert suite.datasets[0].name == "ring8" and suite.datasets[0].params == {}
    assert suite.datasets[1].label == "grid25(n_samples=500)"
    assert suite.models[0].row_label == "t_gan" and suite.models[1].row_label == "small"
    assert suite.resources.cpu == 1.0 and suite.resources.gpu == 0.0
    assert suite.budget.eval_samples == 2000
    assert suite.tracking.wandb == "offline" and suite.max_failures == 2
    assert suite.budget.checkpoint_every == suite.budget.eval_every
    assert suite.source is None


def test_load_suite_file_keeps_its_source() -> None:
    suite = load_suite(SUITES / "tiny.yaml")
    assert suite.source == SUITES / "tiny.yaml"
    assert suite.resources.gpu == 0.5 and suite.tracking.wandb == "disabled"
    assert len(expand(suite)) == (2 + 1) * 2 * 2


def test_dumped_suite_loads_back_to_the_same_trials() -> None:
    suite = load_suite(SUITES / "tiny.yaml")
    again = parse_suite(yaml.safe_dump(suite.model_dump(mode="json"), sort_keys=False))
    assert again.model_dump() == suite.model_dump() and expand(again) == expand(suite)


def test_expansion_count_and_order() -> None:
    trials = expand(parse_suite(GOOD))
    assert len(trials) == (2 + 1) * 2 * 2  # (t_gan lr axis + t_ae) x datasets x seeds
    order = [(t.model_label, t.hparams["lr"], t.dataset_label, t.seed) for t in trials]
    assert order[:5] == [
        ("t_gan", 1e-4, "ring8", 0),
        ("t_gan", 1e-4, "ring8", 1),
        ("t_gan", 1e-4, "grid25(n_samples=500)", 0),
        ("t_gan", 1e-4, "grid25(n_samples=500)", 1),
        ("t_gan", 2e-4, "ring8", 0),
    ]
    assert order[-1][0] == "small"
    assert expand(parse_suite(GOOD)) == trials  # deterministic


def test_trial_fields_are_validated_and_complete() -> None:
    trial = expand(parse_suite(GOOD))[2]
    assert trial.model == "t_gan" and trial.suite == "demo"
    assert trial.hparams == {"batch_size": 128, "lr": 1e-4, "hidden": [8, 8], "depth": 2}
    assert trial.grid == {"lr": 1e-4}
    assert trial.dataset == "grid25"
    assert trial.dataset_params == {"heldout_fraction": 0.2, "data_seed": 0, "n_samples": 500}
    assert trial.budget == {
        "steps": 100,
        "eval_every": 50,
        "eval_samples": 2000,
        "checkpoint_every": 50,
        "reference_samples": 2000,  # the suite's eval_samples when it sets none
    }
    assert trial.resources == {"cpu": 1.0, "gpu": 0.0, "custom": {}}
    # the listed metrics, then the metrics over training that every trial gets
    assert trial.metrics == ("t_always", "t_modes", "stability")


def test_trial_ids_are_unique_stable_and_filesystem_safe() -> None:
    trials = expand(parse_suite(GOOD))
    ids = [t.trial_id for t in trials]
    assert len(set(ids)) == len(ids)
    assert ids[2].startswith("t_gan-grid25_n_samples_500-") and ids[2].endswith("-s0")
    assert all(c.isalnum() or c in "_.-" for c in "".join(ids))
    reordered = GOOD.replace("seeds: [0, 1]", "seeds: [1, 0]")
    assert {t.trial_id for t in expand(parse_suite(reordered))} == set(ids)


def test_group_key_shared_by_seeds_only() -> None:
    trials = expand(parse_suite(GOOD))
    groups = {t.group_key for t in trials}
    assert len(groups) == len(trials) // 2
    assert trials[0].group_key == trials[1].group_key
    assert trials[0].group_key == ("ring8", "t_gan", json.dumps({"lr": 1e-4}))
    assert trials[-1].group_key[2] == "{}"


def test_trial_dict_round_trip_through_json() -> None:
    for trial in expand(parse_suite(GOOD)):
        data = trial.to_dict()
        assert Trial.from_dict(data) == trial
        assert Trial.from_dict(json.loads(json.dumps(data))) == trial
    with pytest.raises(ValueError, match="seed"):
        Trial.from_dict({k: v for k, v in data.items() if k != "seed"})


def test_list_typed_hparam_flat_list_is_one_value() -> None:
    trials = expand(parse_suite(GOOD))
    assert trials[0].hparams["hidden"] == [8, 8]
    assert "hidden" not in trials[0].grid


def test_list_typed_hparam_list_of_lists_is_an_axis() -> None:
    text = GOOD.replace("hidden: [8, 8]", "hidden: [[8], [16, 16], [4]]")
    trials = [t for t in expand(parse_suite(text)) if t.model == "t_gan"]
    assert len(trials) == 2 * 3 * 2 * 2
    assert [t.grid for t in trials[:: 2 * 2]][:3] == [
        {"lr": 1e-4, "hidden": [8]},
        {"lr": 1e-4, "hidden": [16, 16]},
        {"lr": 1e-4, "hidden": [4]},
    ]


def test_exponent_without_dot_is_a_float() -> None:
    suite = parse_suite(GOOD.replace("[1.0e-4, 2.0e-4]", "[1e-4, 2E-4, 3e+2, .5e1]"))
    assert suite.models[0].hparams["lr"] == [1e-4, 2e-4, 300.0, 5.0]
    assert yaml.safe_load("x: 1e-4") == {"x": "1e-4"}  # plain PyYAML is unchanged


def test_single_value_axis_does_not_vary() -> None:
    trials = expand(parse_suite(GOOD.replace("[1.0e-4, 2.0e-4]", "[1.0e-4]")))
    assert trials[0].grid == {}


def test_metrics_default_to_every_applicable_metric() -> None:
    text = suite_text(datasets="datasets: [ring8, digits]", models="models: [{name: t_ae}]")
    text = "\n".join(x for x in text.splitlines() if x[:3] not in ("  -", "met")) + "\n"
    suite = parse_suite(text)
    assert suite.metrics is None
    by_dataset = {t.dataset: t.metrics for t in expand(suite)}
    assert "t_always" in by_dataset["digits"] and "t_modes" not in by_dataset["digits"]
    assert {"t_always", "t_modes"} <= set(by_dataset["ring8"])
    display_order = metrics_in_order()  # Metric.order, then name
    for names in by_dataset.values():
        assert list(names) == [n for n in display_order if n in names]


def test_an_opt_in_metric_is_measured_only_when_listed() -> None:
    """In-painting (Metric.by_default False) costs minutes per image-GAN trial: a suite without
    `metrics:` leaves it out, a suite that lists it gets it."""
    base = "name: s\nseeds: [0]\nbudget: {steps: 10, eval_every: 10, eval_samples: 50}\n"
    base += "datasets: [digits]\nmodels: [{name: vae}]\n"
    (default,) = expand(parse_suite(base))
    (listed,) = expand(parse_suite(base + "metrics: [fid, inpainting]\n"))
    assert "fid" in default.metrics and "inpainting" not in default.metrics
    assert "inpainting" in listed.metrics


def test_metric_partially_applicable_is_dropped_per_dataset() -> None:
    text = suite_text(datasets="datasets: [ring8, digits]", models="models: [{name: t_ae}]")
    text = "\n".join(line for line in text.splitlines() if not line.startswith("  -")) + "\n"
    by_dataset = {t.dataset: t.metrics for t in expand(parse_suite(text))}
    assert by_dataset == {
        "ring8": ("t_always", "t_modes", "stability"),
        "digits": ("t_always", "stability"),
    }


def test_expand_works_on_a_suite_built_in_code() -> None:
    suite = Suite.model_validate(
        {
            "name": "code",
            "seeds": [3],
            "budget": {"steps": 2, "eval_every": 1},
            "datasets": ["ring8"],
            "models": [{"name": "t_ae"}],
        }
    )
    (trial,) = expand(suite)
    assert trial.seed == 3 and trial.hparams["latent_dim"] == 2


# ------------------------------------------------------------------------- 1: files


def test_missing_file_lists_suites_folder(tmp_path: Path) -> None:
    (tmp_path / "quickstart.yaml").write_text(GOOD)
    with pytest.raises(SuiteError) as info:
        load_suite(tmp_path / "quickstrat.yaml")
    message = info.value.message()
    assert "not found" in message and "quickstrat.yaml" in message
    assert "Did you mean 'quickstart'?" in message and "check the path" in message


def test_directory_instead_of_file() -> None:
    with pytest.raises(SuiteError, match="folder, not a suite file") as info:
        load_suite(SUITES)
    assert "tiny.yaml" in info.value.message()


@pytest.mark.parametrize("text", ["", "\n  \n", "# only a comment\n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    (tmp_path / "e.yaml").write_text(text)
    with pytest.raises(SuiteError, match="empty"):
        load_suite(tmp_path / "e.yaml")


# ------------------------------------------------------------------------- 2: YAML


def test_yaml_syntax_error_has_line_and_column() -> None:
    message = error_of("name: x\nseeds: [0, 1\nbudget: {steps: 1}\n")
    assert "YAML syntax error" in message and "s.yaml:3:" in message


def test_top_level_must_be_a_mapping() -> None:
    message = error_of("- name: x\n- seeds: [0]\n")
    assert "s.yaml:1" in message and "top level must be a mapping" in message


def test_duplicate_keys_are_rejected() -> None:
    message = error_of(GOOD + "seeds: [5]\n")
    assert "s.yaml:9 (seeds)" in message and "appears twice" in message
    assert "lines 2 and 9" in message


def test_duplicate_nested_keys_are_rejected() -> None:
    text = GOOD.replace("{lr: [1.0e-4, 2.0e-4],", "{lr: 1.0e-4, lr: 2.0e-4,")
    message = error_of(text)
    assert "s.yaml:6 (models[0].hparams.lr)" in message and "appears twice" in message


def test_unknown_tags_are_rejected() -> None:
    message = error_of(GOOD + "description: !shout hello\n")
    assert "s.yaml:9:" in message and "'!shout'" in message and "without a '!' tag" in message


def test_several_documents_are_rejected() -> None:
    message = error_of(GOOD + "---\nname: other\n")
    assert "s.yaml:9:" in message and "single document" in message


def test_python_tags_are_rejected() -> None:
    message = error_of(GOOD + "description: !!python/object/apply:os.system [echo hi]\n")
    assert "s.yaml:9 (description)" in message and "safe loading" in message


# ------------------------------------------------------------------------- 3: keys and types


def test_unknown_top_level_key_suggests() -> None:
    message = error_of(GOOD.replace("seeds:", "seed:"))
    assert "s.yaml:2 (seed)" in message and "unknown key 'seed'" in message
    assert "Did you mean 'seeds'?" in message and "valid keys: name, description, seeds" in message
    assert "missing" not in message  # implied by the typo, so not reported separately


def test_unknown_nested_key_suggests() -> None:
    message = error_of(suite_text(budget="budget: {step: 100, eval_every: 50}"))
    assert "s.yaml:3 (budget.step)" in message and "Did you mean 'steps'?" in message


def test_wrong_type_says_what_is_valid() -> None:
    message = error_of(suite_text(seeds="seeds: abc"))
    assert "s.yaml:2 (seeds)" in message and "valid list" in message
    assert "'abc'" in message and "distinct whole numbers" in message


def test_out_of_range_value() -> None:
    message = error_of(suite_text(budget="budget:\n  steps: -5\n  eval_every: 1"))
    assert "s.yaml:4 (budget.steps)" in message and "greater than or equal to 1" in message
    assert "-5" in message


def test_missing_required_key() -> None:
    message = error_of(GOOD.replace("budget: {steps: 100, eval_every: 50}\n", ""))
    assert "missing required key 'budget'" in message and "steps" in message


def test_suite_name_must_be_folder_safe() -> None:
    message = error_of(suite_text(name="name: my suite/1"))
    assert "s.yaml:1 (name)" in message and "folder name" in message


def test_several_problems_reported_together() -> None:
    text = suite_text(seeds="seeds: abc", budget="budget: {steps: 0, eval_every: 1}")
    with pytest.raises(SuiteErrors) as info:
        parse_suite(text, source="s.yaml")
    assert len(info.value.errors) == 2
    assert "s.yaml:2 (seeds)" in str(info.value) and "s.yaml:3 (budget.steps)" in str(info.value)


# ------------------------------------------------------------------------- 4: names


def test_unknown_model_suggests() -> None:
    message = error_of(GOOD.replace("name: t_ae,", "name: t_aee,"))
    assert "s.yaml:7 (models[1].name)" in message and "unknown model 't_aee'" in message
    assert "Did you mean 't_ae'" in message


def test_unknown_dataset_suggests() -> None:
    message = error_of(GOOD.replace("[ring8,", "[rnig8,"))
    assert "s.yaml:4 (datasets[0].name)" in message and "Did you mean 'ring8'?" in message


def test_unknown_metric_suggests() -> None:
    message = error_of(suite_text(metrics="metrics:\n  - t_always\n  - t_mdoes"))
    assert "s.yaml:10 (metrics[1])" in message and "Did you mean 't_modes'" in message


def test_independent_name_errors_are_all_reported() -> None:
    text = GOOD.replace("[ring8,", "[rnig8,").replace("name: t_ae,", "name: t_aee,")
    with pytest.raises(SuiteErrors) as info:
        parse_suite(text, source="s.yaml")
    assert len(info.value.errors) == 2


def test_duplicate_model_labels_are_rejected() -> None:
    message = error_of(GOOD.replace("label: small", "label: t_gan"))
    assert "s.yaml:7 (models[1])" in message and "both labelled 't_gan'" in message


# ------------------------------------------------------------------------- 5, 6: hyperparameters


def test_unknown_hparam_suggests_and_lists_valid_ones() -> None:
    message = error_of(GOOD.replace("latent_dim: 3", "latnt_dim: 3"))
    assert "s.yaml:7 (models[1].hparams.latnt_dim)" in message
    assert "unknown hyperparameter 'latnt_dim' of model 't_ae'" in message
    assert "Did you mean 'latent_dim'?" in message
    assert "batch_size, lr, latent_dim" in message


def test_bad_hparam_value_points_at_the_axis_item() -> None:
    text = textwrap.dedent(
        """\
        name: demo
        seeds: [0]
        budget: {steps: 100, eval_every: 50}
        datasets: [ring8]
        models:
          - name: t_gan
            hparams:
              lr:
                - 1.0e-4
                - -1
        """
    )
    message = error_of(text)
    assert "s.yaml:10 (models[0].hparams.lr[1])" in message
    assert "greater than 0" in message and "Adam learning rate" in message
    assert message.count("\n") == 1  # one error, not one per grid point


def test_bad_hparam_type() -> None:
    message = error_of(GOOD.replace("latent_dim: 3", "latent_dim: big"))
    assert "s.yaml:7 (models[1].hparams.latent_dim)" in message
    assert "valid integer" in message and "'big'" in message and "size of the code" in message


def test_grid_repeating_a_value() -> None:
    message = error_of(GOOD.replace("[1.0e-4, 2.0e-4]", "[1.0e-4, 0.0001]"))
    assert "s.yaml:6 (models[0].hparams)" in message and "same hyperparameters twice" in message
    assert "lr=0.0001" in message


def test_cross_field_hparam_check_names_the_grid_point() -> None:
    message = error_of(GOOD.replace("latent_dim: 3", "latent_dim: [3, 300]"))
    assert "s.yaml:7 (models[1].hparams)" in message
    assert "latent_dim must not exceed batch_size" in message and "latent_dim=300" in message


def test_expand_of_a_suite_built_in_code_reports_errors_too() -> None:
    suite = Suite.model_validate(
        {
            "name": "code",
            "seeds": [0],
            "budget": {"steps": 2, "eval_every": 1},
            "datasets": ["ring8"],
            "models": [{"name": "t_aee"}],
        }
    )
    with pytest.raises(SuiteError, match=r"suite 'code' \(models\[0\]\.name\).*'t_ae'"):
        expand(suite)


def test_empty_grid_axis() -> None:
    message = error_of(GOOD.replace("[1.0e-4, 2.0e-4]", "[]"))
    assert "s.yaml:6 (models[0].hparams.lr)" in message and "empty grid axis" in message
    assert "at least one value" in message


# ------------------------------------------------------------------------- 7, 8, 9: compatibility


def test_incompatible_model_and_dataset() -> None:
    message = error_of(GOOD.replace("[ring8,", "[digits,"))
    assert "s.yaml:6 (models[0])" in message
    assert "model 't_gan' cannot train on dataset 'digits'" in message
    assert "only handles 2-D points" in message


def test_unknown_dataset_param_suggests() -> None:
    message = error_of(GOOD.replace("n_samples: 500", "n_sample: 500"))
    assert "s.yaml:4 (datasets[1].params.n_sample)" in message
    assert "unknown dataset parameter 'n_sample' of dataset 'grid25'" in message
    assert "Did you mean 'n_samples'?" in message and "heldout_fraction" in message


def test_bad_dataset_param_value() -> None:
    message = error_of(GOOD.replace("n_samples: 500", "n_samples: 3"))
    assert "s.yaml:4 (datasets[1].params.n_samples)" in message and "greater than" in message


def test_metric_that_applies_to_no_dataset() -> None:
    text = suite_text(datasets="datasets: [digits]", models="models: [{name: t_ae}]")
    text = "\n".join(line for line in text.splitlines() if not line.startswith("  -")) + "\n"
    message = error_of(text)
    assert "s.yaml:6 (metrics[1])" in message
    assert "metric 't_modes' applies to none of this suite's datasets" in message
    assert "digits: the dataset has no known mode centres" in message


# ------------------------------------------------------------------------- 10: values


def test_duplicate_seeds() -> None:
    message = error_of(suite_text(seeds="seeds: [0, 1, 0]"))
    assert "s.yaml:2 (seeds)" in message and "seed 0 is listed more than once" in message


def test_eval_every_above_steps() -> None:
    message = error_of(suite_text(budget="budget: {steps: 100, eval_every: 500}"))
    assert "s.yaml:3 (budget.eval_every)" in message and "larger than steps (100)" in message
    assert "from 1 up to `steps`" in message


def test_fractional_gpu_above_one() -> None:
    message = error_of(GOOD + "resources: {gpu: 1.5}\n")
    assert "s.yaml:9 (resources.gpu)" in message and "use 1 or 2" in message
    assert "fraction below 1" in message


PER_MODEL_DATASETS = """\
name: mixed
seeds: [0]
budget: {steps: 10, eval_every: 10, eval_samples: 100}
datasets: [ring8, digits]
models:
  - {name: gan}
  - {name: conv_ae, datasets: [DIGITS_LABEL]}
tracking: {wandb: disabled}
"""


def test_a_model_can_run_on_some_of_the_suites_datasets() -> None:
    trials = expand(parse_suite(PER_MODEL_DATASETS.replace("DIGITS_LABEL", "digits")))
    pairs = sorted((t.model, t.dataset_label) for t in trials)
    assert pairs == [("conv_ae", "digits"), ("gan", "digits"), ("gan", "ring8")]


def test_unknown_per_model_dataset_and_incompatible_pairs_are_explained() -> None:
    with pytest.raises(SuiteError) as caught:
        parse_suite(PER_MODEL_DATASETS.replace("DIGITS_LABEL", "digit"))
    assert "names dataset 'digit'" in str(caught.value) and "Did you mean 'digits'" in str(
        caught.value
    )
    with pytest.raises(SuiteError) as caught:
        parse_suite(PER_MODEL_DATASETS.replace(", datasets: [DIGITS_LABEL]", ""))
    assert "cannot train on dataset 'ring8'" in str(caught.value)
    assert "`datasets:` list" in str(caught.value)


def test_a_model_can_have_its_own_budget() -> None:
    text = PER_MODEL_DATASETS.replace("DIGITS_LABEL", "digits").replace(
        "  - {name: gan}", "  - {name: gan, budget: {steps: 40, eval_every: 20}}"
    )
    by_model = {t.model: t.budget for t in expand(parse_suite(text))}
    assert by_model["gan"]["steps"] == 40 and by_model["gan"]["checkpoint_every"] == 20
    assert by_model["gan"]["eval_samples"] == 100  # the suite's key, kept
    assert by_model["conv_ae"]["steps"] == 10


def test_a_bad_model_budget_is_explained_where_it_is() -> None:
    text = PER_MODEL_DATASETS.replace("DIGITS_LABEL", "digits").replace(
        "  - {name: gan}", "  - {name: gan, budget: {steps: 5, eval_every: 20, stepz: 1}}"
    )
    with pytest.raises(SuiteError) as caught:
        parse_suite(text)
    message = str(caught.value)
    assert "eval_every (20) is larger than steps (5)" in message
    assert "stepz" in message and ":6" in message  # the model's line in the file


@pytest.mark.parametrize(
    ("budget", "phrase"),
    [
        ("{steps: 100}", "gives none of eval_every, eval_at and eval_schedule"),
        ("{steps: 100, eval_every: 10, eval_at: [5]}", "more than one of"),
        ("{steps: 100, eval_at: [50, 200]}", "beyond steps (100): [200]"),
        ("{steps: 100, eval_at: [50, 20]}", "distinct steps in increasing order"),
        ("{steps: 100, eval_schedule: {log: 4, first: 100}}", "not before steps (100)"),
        ("{steps: 100, eval_schedule: {log: 1}}", "greater than or equal to 2"),
    ],
)
def test_evaluation_schedules_are_validated_with_the_line(budget: str, phrase: str) -> None:
    message = error_of(suite_text(budget=f"budget: {budget}"))
    assert phrase in message and "s.yaml:" in message


def test_a_model_schedule_replaces_the_suites_and_checkpoints_follow_it() -> None:
    text = GOOD.replace(
        "label: small,", "label: small, budget: {steps: 1000, eval_schedule: {log: 3}},"
    )
    by_model = {t.model: t.budget for t in expand(parse_suite(text))}
    assert by_model["t_ae"] == {
        "steps": 1000,
        "eval_schedule": {"log": 3},
        "eval_samples": 2000,
        "checkpoint_every": 100,  # steps / 10 for a schedule
        "reference_samples": 2000,
    }
    assert by_model["t_gan"]["eval_every"] == 50 and "eval_at" not in by_model["t_gan"]


@pytest.mark.parametrize(
    ("model", "old"), [("wgan", "n_critic"), ("wgan_gp", "n_critic"), ("sngan", "n_dis")]
)
def test_old_names_of_the_discriminator_steps_are_refused_with_the_new_one(model, old) -> None:
    import bench.models  # noqa: F401  (the real GAN variants)

    text = f"""\
name: knobs
seeds: [0]
budget: {{steps: 10, eval_every: 10}}
datasets: [ring8]
models: [{{name: {model}, hparams: {{{old}: 3}}}}]
"""
    message = error_of(text)
    assert f"unknown hyperparameter '{old}'" in message
    assert f"Did you mean 'd_steps'? ('{old}' is its old name)" in message


@pytest.mark.parametrize("model", ["gan", "dcgan", "lsgan", "sngan", "wgan", "wgan_gp", "pacgan"])
def test_every_gan_variant_takes_its_discriminator_steps_as_d_steps(model) -> None:
    import bench.models  # noqa: F401

    cls = MODELS.get(model)
    assert "d_steps" in cls.HParams.model_fields
    critic = {"wgan": 5, "wgan_gp": 5}.get(model, 1)  # the critics' papers' defaults
    assert cls.HParams().d_steps == critic


def test_the_reference_set_size_is_the_suites_and_travels_with_every_trial() -> None:
    text = suite_text(
        budget="budget: {steps: 100, eval_every: 50, eval_samples: 300, reference_samples: 1200}"
    )
    assert {t.budget["reference_samples"] for t in expand(parse_suite(text))} == {1200}
    assert {t.budget["eval_samples"] for t in expand(parse_suite(text))} == {300}
    model_sets_it = GOOD.replace("label: small,", "label: small, budget: {reference_samples: 50},")
    with pytest.raises((SuiteError, SuiteErrors)) as caught:
        expand(parse_suite(model_sets_it))
    said = str(caught.value) + str(getattr(caught.value, "fix", ""))
    assert "same reference set" in said
