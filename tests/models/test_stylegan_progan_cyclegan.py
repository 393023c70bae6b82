"""The image GANs (stylegan, progan, cyclegan) on real digits: shapes, value range, diagnostics,
determinism, their dataset checks, progan's growth schedule and checkpoint, cyclegan's unpaired
batches and the cycle metric. Networks are tiny and runs a few dozen steps: these check plumbing
and the direction diagnostics move, not image quality."""

from __future__ import annotations

import io
import math

import pytest
import torch

from bench.data import DATASETS, DataInfo, DataSplits, EvalSpec
from bench.errors import BenchError
from bench.metrics import METRICS
from bench.metrics.translation import cycle_error
from bench.models import MODELS, Batch, GenerativeModel
from bench.models.cyclegan import CycleGan
from bench.models.progan import ProGan, schedule
from bench.probes import PROBES, unmeasurable
from bench.suite import expand, parse_suite
from tests.models import builders
from tests.models.builders import batches

TINY = {
    "stylegan": {"channels": 8, "w_dim": 16, "latent_dim": 8, "batch_size": 16},
    "progan": {"channels": 8, "latent_dim": 8, "batch_size": 16, "phase_steps": 2, "fade_steps": 2},
    "cyclegan": {"channels": 4, "res_blocks": 1, "batch_size": 16},
}
HOME = {"stylegan": "mnist5k", "progan": "mnist5k", "cyclegan": "mnist_pairs"}
DIAGNOSTICS = {"loss_g", "loss_d", "grad_norm_g", "grad_norm_d", "d_real", "d_fake"}
MODEL_NAMES = sorted(TINY)


def data(name: str) -> tuple[DataInfo, DataSplits]:
    return builders.data(name, **{"stacked_mnist": {"n_samples": 300}}.get(name, {}))


def build(model: str, dataset: str | None = None, seed: int = 0, **hparams) -> GenerativeModel:
    torch.manual_seed(seed)
    cls = MODELS.get(model)
    m = cls(cls.HParams(**{**TINY[model], **hparams}), data(dataset or HOME[model])[0])
    m.fit_sampler(data(dataset or HOME[model])[1])
    return m


def train(m: GenerativeModel, steps: int, dataset: str | None = None) -> list[dict[str, float]]:
    """`steps` training steps on `dataset` (default: the model's home dataset)."""
    name = dataset or next(HOME[n] for n in MODEL_NAMES if isinstance(m, MODELS.get(n)))
    it = batches(data(name)[1].train, m.hparams.batch_size)
    return [m.train_step(next(it)) for _ in range(steps)]


def mean(logs: list[dict[str, float]], key: str) -> float:
    return sum(row[key] for row in logs) / len(logs)


# --- registry and dataset checks ----------------------------------------------------------------


def test_registered_as_gans_with_descriptions():
    for name in MODEL_NAMES:
        cls = MODELS.get(name)
        assert cls.family == "gan" and cls.description


@pytest.mark.parametrize(
    ("model", "dataset", "reason"),
    [
        ("stylegan", "ring8", "points"),
        ("progan", "grid25", "points"),
        ("stylegan", "digits", "28×28"),
        ("progan", "digits", "not 8×8"),
        ("cyclegan", "mnist5k", "paired-domain dataset"),
        ("cyclegan", "stacked_mnist", "mnist_pairs"),
        ("cyclegan", "ring8", "paired"),
    ],
)
def test_incompatible_datasets_are_rejected_with_the_reason(model, dataset, reason):
    message = MODELS.get(model).incompatibility(DATASETS.get(dataset)().info)
    assert message is not None and reason in message


@pytest.mark.parametrize(
    ("model", "dataset"),
    [
        ("stylegan", "mnist5k"),
        ("stylegan", "stacked_mnist"),
        ("progan", "mnist5k"),
        ("progan", "stacked_mnist"),
        ("cyclegan", "mnist_pairs"),
    ],
)
def test_compatible_datasets_are_accepted(model, dataset):
    assert MODELS.get(model).incompatibility(DATASETS.get(dataset)().info) is None


def test_suite_validation_names_the_incompatibility():
    text = (
        "name: s\nseeds: [0]\nbudget: {steps: 2, eval_every: 2, eval_samples: 10}\n"
        "datasets: [mnist_pairs, ring8]\nmodels:\n  - {name: stylegan}\n  - {name: cyclegan}\n"
        "tracking: {wandb: disabled}\n"
    )
    with pytest.raises(BenchError) as info:
        expand(parse_suite(text, "s.yaml"))
    message = str(info.value)
    assert "model 'stylegan' cannot train on dataset 'ring8'" in message
    assert "model 'cyclegan' cannot train on dataset 'ring8'" in message


# --- every variant: shapes, range, diagnostics, determinism -------------------------------------


@pytest.mark.parametrize(
    ("model", "dataset"),
    [
        ("stylegan", "mnist5k"),
        ("stylegan", "stacked_mnist"),
        ("progan", "stacked_mnist"),
        ("cyclegan", "mnist_pairs"),
    ],
)
def test_steps_report_finite_diagnostics_and_samples_fit_the_data(model, dataset):
    m = build(model, dataset)
    logs = train(m, 2, dataset)
    assert set(logs[-1]) >= DIAGNOSTICS and all(math.isfinite(v) for v in logs[-1].values())
    x = m.sample(10, torch.Generator().manual_seed(0))
    info = data(dataset)[0]
    assert x.shape == (10, *info.shape)
    low, high = info.value_range
    assert x.min() >= low and x.max() <= high


@pytest.mark.parametrize("model", MODEL_NAMES)
def test_training_and_sampling_are_deterministic_under_a_seed(model):
    runs, logs = [], []
    for _ in range(2):  # build then train, each from the same seed
        runs.append(build(model, seed=3))
        logs.append(train(runs[-1], 3))
    assert logs[0] == logs[1]
    draws = [m.sample(6, torch.Generator().manual_seed(7)) for m in runs]
    assert torch.equal(draws[0], draws[1])


@pytest.mark.parametrize("model", MODEL_NAMES)
def test_sampling_uses_only_its_generator(model):
    m = build(model)
    before = torch.random.get_rng_state()
    first = m.sample(5, torch.Generator().manual_seed(1))
    assert torch.equal(torch.random.get_rng_state(), before)
    assert torch.equal(first, m.sample(5, torch.Generator().manual_seed(1)))
    assert not torch.equal(first, m.sample(5, torch.Generator().manual_seed(2)))


def test_stylegan_discriminator_learns_to_separate():
    m = build("stylegan", lr=1e-3)
    logs = train(m, 30)
    assert logs[0]["d_real"] == pytest.approx(0.5, abs=0.05)
    assert mean(logs[-5:], "loss_d") < logs[0]["loss_d"] - 0.1
    assert mean(logs[-5:], "d_real") > mean(logs[-5:], "d_fake")
    assert logs[-1]["r1"] > 0


def test_stylegan_noise_and_style_both_shape_the_image():
    m = build("stylegan")
    for layer in m.synthesis.layers:
        layer.noise_scale.data.fill_(0.5)
    z = m.latent(4, torch.Generator().manual_seed(0))
    with torch.no_grad():
        same_z = [m.generate(z, torch.Generator().manual_seed(s)) for s in (1, 2)]
        other_z = m.generate(
            m.latent(4, torch.Generator().manual_seed(9)), torch.Generator().manual_seed(1)
        )
    assert not torch.allclose(same_z[0], same_z[1])  # per-layer noise
    assert not torch.allclose(same_z[0], other_z)  # the style from w


def test_progan_critic_learns_to_separate():
    m = build("progan", phase_steps=100)
    logs = train(m, 30)
    assert {row["resolution"] for row in logs} == {7.0}
    assert mean(logs[-5:], "d_real") > mean(logs[-5:], "d_fake")
    assert mean(logs[-5:], "loss_d") < mean(logs[:5], "loss_d")


def test_cyclegan_cycle_loss_falls():
    m = build("cyclegan", lr=1e-3)
    logs = train(m, 30)
    assert mean(logs[-5:], "cycle") < 0.8 * logs[0]["cycle"]
    assert mean(logs[-5:], "loss_g") < logs[0]["loss_g"]


# --- progan: schedule, growth, checkpoint -------------------------------------------------------


def test_progan_schedule_grows_with_linear_fade_in():
    got = [schedule(t, phase_steps=2, fade_steps=4) for t in range(16)]
    assert got == [
        (0, 1.0), (0, 1.0),
        (1, 0.0), (1, 0.25), (1, 0.5), (1, 0.75), (1, 1.0), (1, 1.0),
        (2, 0.0), (2, 0.25), (2, 0.5), (2, 0.75),
        (2, 1.0), (2, 1.0), (2, 1.0), (2, 1.0),
    ]  # fmt: skip
    assert schedule(10**6, 2, 4) == (2, 1.0)
    assert [schedule(t, 1, 0) for t in range(4)] == [(0, 1.0), (1, 1.0), (2, 1.0), (2, 1.0)]


def test_progan_grows_during_training_and_always_samples_full_size():
    m = build("progan")  # phase 2, fade 2
    seen = []
    it = batches(data("mnist5k")[1].train, 16)
    for _ in range(8):
        logs = m.train_step(next(it))
        seen.append((logs["resolution"], logs["alpha"]))
        assert m.sample(3, torch.Generator().manual_seed(0)).shape == (3, 1, 28, 28)
    assert seen == [
        (7.0, 1.0), (7.0, 1.0), (14.0, 0.0), (14.0, 0.5),
        (14.0, 1.0), (14.0, 1.0), (28.0, 0.0), (28.0, 0.5),
    ]  # fmt: skip
    assert int(m.step) == 8


def test_progan_checkpoint_restores_stage_and_continues_exactly():
    m = build("progan")
    train(m, 3)  # mid fade-in to 14×14
    buffer = io.BytesIO()  # through bytes, as a checkpoint file: no tensor shared with `m`
    torch.save(m.training_state(), buffer)
    buffer.seek(0)
    restored = build("progan", seed=99)
    restored.load_training_state(torch.load(buffer, weights_only=True))
    assert restored.stage() == m.stage() == (1, 0.5)
    batch = next(batches(data("mnist5k")[1].train, 16, seed=5))
    torch.manual_seed(11)
    expected = m.train_step(batch)
    torch.manual_seed(11)
    assert restored.train_step(batch) == expected


def test_progan_fade_in_blends_the_previous_resolution():
    m = build("progan")
    z = m.latent(4, torch.Generator().manual_seed(0))
    with torch.no_grad():
        start = m.generator(z, 1, 0.0)
        coarse = torch.nn.functional.interpolate(m.generator(z, 0, 1.0), scale_factor=2)
        full = m.generator(z, 1, 1.0)
        half = m.generator(z, 1, 0.5)
    assert torch.allclose(start, coarse)  # alpha 0: only the upsampled 7×7 output
    assert torch.allclose(half, 0.5 * full + 0.5 * coarse, atol=1e-6)


# --- cyclegan: unpaired batches, sampler, cycle metric ------------------------------------------


def test_cyclegan_never_sees_a_pair_in_training():
    m = build("cyclegan")
    x = data("mnist_pairs")[1].train[:16].clone()
    x[:8, 1] = math.nan  # B images of the first half: never read
    x[8:, 0] = math.nan  # A images of the second half: never read
    logs = m.train_step(Batch(x))
    assert all(math.isfinite(v) for v in logs.values())


def test_cyclegan_samples_translate_heldout_sources():
    m = build("cyclegan")
    heldout = data("mnist_pairs")[1].heldout
    x = m.sample(len(heldout) + 5, torch.Generator().manual_seed(0))
    # every held-out A image once before any repeats
    firsts = x[: len(heldout), 0].reshape(len(heldout), -1)
    assert torch.equal(
        firsts.sort(0).values, heldout[:, 0].reshape(len(heldout), -1).sort(0).values
    )
    with torch.no_grad():
        assert torch.allclose(x[:, 1:2], m.translate(x[:, 0:1]))


def test_cyclegan_needs_its_sampler_fitted():
    cls = MODELS.get("cyclegan")
    m = cls(cls.HParams(**TINY["cyclegan"]), data("mnist_pairs")[0])
    with pytest.raises(RuntimeError, match="fit_sampler"):
        m.sample(2)


def test_cycle_metric_matches_the_models_own_reconstructions():
    m = build("cyclegan")
    train(m, 2)
    splits = data("mnist_pairs")[1]
    pairs = splits.heldout[:40]
    short = DataSplits(train=splits.train, heldout=pairs)
    probed = PROBES.get("cycle_reconstructions").run(m, short, EvalSpec(feature_space="raw"))
    got = cycle_error(pairs, probed["cycled_a"], probed["cycled_b"])
    with torch.no_grad():
        m.eval()
        a_rec, b_rec = m.cycle_reconstruct(pairs[:, 0:1], pairs[:, 1:2])
        m.train()
    assert got["cycle_a"] == pytest.approx((a_rec - pairs[:, 0:1]).abs().mean().item(), rel=1e-5)
    assert got["cycle_b"] == pytest.approx((b_rec - pairs[:, 1:2]).abs().mean().item(), rel=1e-5)
    assert m.training  # the probe restores the mode


def test_cycle_metric_applies_to_translators_only():
    metric = METRICS.get("cycle")
    assert unmeasurable(metric, CycleGan) is None
    assert "`translate_back`" in unmeasurable(metric, ProGan)
    for name, applies in (("mnist_pairs", True), ("mnist5k", False)):
        dataset = DATASETS.get(name)()
        assert (metric.applies(dataset.eval_spec, dataset.info) is None) == applies
