"""The autoencoder family: every variant's contract (shapes, value range, determinism, learning),
what makes each variant itself (sparsity, corruption, β, conditioning, exact PCA), the ex-post
code densities, the autoencoder metrics on constructed inputs, the latent traversal picture, and
validation of incompatible datasets and invalid hyperparameters through the suite loader.

Learning checks use small networks and a few hundred steps on digits; their thresholds were
checked on three seeds with wide margins."""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Iterator
from functools import cache

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA as SkPCA
from sklearn.metrics import roc_auc_score

from bench.data import DATASETS, DataInfo, DataSplits
from bench.data.base import EvalSpec
from bench.errors import BenchError, SuiteError
from bench.metrics import METRICS, EvalInputs, Features, MetricInputError
from bench.metrics.autoencoding import active_units, auroc
from bench.models import MODELS, Batch, GenerativeModel
from bench.models.coders import ConvDecoder, ConvEncoder, conv_sides
from bench.models.density import CodeDensity
from bench.probes import run_probes, unmeasurable
from bench.suite import parse_suite
from bench.trial.pictures import latent_traversal, latent_traversal_png
from tests.models import builders
from tests.models.builders import data, fixed

PRIORLESS = [
    "pca",
    "ae",
    "ae_undercomplete",
    "ae_overcomplete",
    "stacked_ae",
    "sparse_ae_l1",
    "sparse_ae_kl",
    "denoising_ae",
    "conv_ae",
]
VAES = ["vae", "beta_vae", "cvae"]
VARIANTS = PRIORLESS + VAES
# Small networks where a test checks plumbing rather than learning.
TINY: dict[str, dict] = {
    "pca": {"latent_dim": 4},
    "stacked_ae": {"widths": [32, 16]},
    "conv_ae": {"width": 4},
}
MLP_TINY = {"hidden": 32, "layers": 1}


def tiny(model: str) -> dict:
    return TINY.get(model, MLP_TINY)


def batches(splits: DataSplits, size: int = 64, seed: int = 0) -> Iterator[Batch]:
    return builders.batches(splits.train, size, seed, splits.train_labels)


def build(model: str, dataset: str = "digits", seed: int = 0, **hparams: object) -> GenerativeModel:
    return builders.build(model, dataset, seed, **hparams)


def train(m: GenerativeModel, steps: int, dataset: str = "digits") -> list[dict[str, float]]:
    it = batches(data(dataset)[1])
    return [m.train_step(next(it)) for _ in range(steps)]


def heldout_mse(m: GenerativeModel, dataset: str = "digits") -> float:
    _, splits = data(dataset)
    x_hat = m.reconstruct(splits.heldout, splits.heldout_labels)
    return (x_hat - splits.heldout).pow(2).mean().item()


# --- registry ------------------------------------------------------------------------------------


def test_every_variant_is_registered_as_an_autoencoder_with_a_description() -> None:
    described = dict(MODELS.describe())
    for name in VARIANTS:
        assert MODELS.get(name).family == "autoencoder"
        assert described[name] and "\n" not in described[name]


def test_presets_size_the_code_relative_to_the_data() -> None:
    for dataset, dim in (("digits", 64), ("ring8", 2)):
        under = build("ae_undercomplete", dataset, **MLP_TINY)
        over = build("ae_overcomplete", dataset, **MLP_TINY)
        assert 1 <= under.latent_dim < dim < over.latent_dim
    assert build("ae_undercomplete", **MLP_TINY).latent_dim == 8  # 0.125 * 64
    assert build("ae_overcomplete", **MLP_TINY).latent_dim == 128  # 2 * 64


# --- the contract, for every variant -------------------------------------------------------------


@pytest.mark.parametrize("model", VARIANTS)
def test_train_step_logs_finite_losses(model: str) -> None:
    m = build(model, **tiny(model))
    for stats in train(m, 3):
        assert {"loss", "recon", "grad_norm"} <= set(stats)
        assert model not in VAES or "kl" in stats
        assert all(type(v) is float and math.isfinite(v) for v in stats.values()), stats


@pytest.mark.parametrize("model", VARIANTS)
def test_shapes_value_range_and_sampling_randomness(model: str) -> None:
    info, splits = data("digits")
    m = build(model, **tiny(model))
    train(m, 3)
    m.fit_sampler(splits)
    x, y = splits.heldout[:10], splits.heldout_labels[:10]
    assert m.reconstruct(x, y).shape == (10, *info.shape)
    code = m.encode(x, y)
    code = code[0] if isinstance(code, tuple) else code
    assert code.shape == (10, m.latent_dim if hasattr(m, "latent_dim") else m.hparams.latent_dim)
    state = torch.get_rng_state()
    first, again, other = m.sample(40, fixed(7)), m.sample(40, fixed(7)), m.sample(40, fixed(8))
    assert torch.equal(torch.get_rng_state(), state)  # only the given generator is used
    assert first.shape == (40, *info.shape) and not first.requires_grad and m.training
    assert first.min().item() >= 0.0 and first.max().item() <= 1.0
    assert torch.equal(first, again) and not torch.equal(first, other)


@pytest.mark.parametrize("model", [v for v in VARIANTS if v != "pca"])
def test_a_short_run_reduces_the_loss(model: str) -> None:
    stats = train(build(model, **tiny(model), lr=3e-3), 60)
    first = sum(s["loss"] for s in stats[:5]) / 5
    last = sum(s["loss"] for s in stats[-5:]) / 5
    # VAEs drop less: the Bernoulli NLL of grey pixels has a high floor (about 25 of 45 nats)
    assert last < (0.95 if model in VAES else 0.8) * first


@pytest.mark.parametrize("model", ["ae", "sparse_ae_kl", "denoising_ae", "conv_ae", "pca", "cvae"])
def test_training_and_sampling_are_deterministic_under_a_seed(model: str) -> None:
    _, splits = data("digits")
    runs = []
    for _ in range(2):
        m = build(model, seed=3, **tiny(model))
        logs = train(m, 5)
        m.fit_sampler(splits)
        runs.append((logs, m.sample(10, fixed())))
    assert runs[0][0] == runs[1][0]
    assert torch.equal(runs[0][1], runs[1][1])


@pytest.mark.parametrize("model", ["ae", "pca", "beta_vae"])
def test_checkpointed_state_restores_the_fitted_sampler(model: str) -> None:
    _, splits = data("digits")
    m = build(model, **tiny(model))
    train(m, 5)
    m.fit_sampler(splits)
    restored = build(model, seed=9, **tiny(model))
    restored.load_training_state(m.training_state())
    assert torch.equal(restored.sample(10, fixed()), m.sample(10, fixed()))
    steps = []
    for copy in (restored, m):
        torch.manual_seed(5)  # the same noise draws (VAE, denoising) for both
        steps.append(train(copy, 1))
    assert steps[0] == steps[1]  # optimizer state travels too


def test_mlp_variants_train_on_2d_points() -> None:
    _, splits = data("ring8")
    for model in ("pca", "ae", "ae_overcomplete", "denoising_ae", "beta_vae"):
        m = build(model, "ring8", **({"latent_dim": 1} if model == "pca" else MLP_TINY))
        train(m, 3, "ring8")
        m.fit_sampler(splits)
        x = m.sample(20, fixed())
        assert x.shape == (20, 2) and torch.isfinite(x).all()


# --- variant-specific behaviour ------------------------------------------------------------------


def test_pca_finds_the_principal_subspace() -> None:
    _, splits = data("digits")
    m = build("pca", latent_dim=6)
    ordered = Batch(splits.train)  # the whole split in one step: exactly sklearn's PCA
    stats = m.train_step(ordered)
    ref = SkPCA(6).fit(splits.train.reshape(len(splits.train), -1).numpy())
    ours = m.components.double().numpy()
    projector = ref.components_.T @ ref.components_
    assert np.allclose(projector @ ours, ours, atol=1e-4)  # same subspace
    held = splits.heldout.reshape(len(splits.heldout), -1).numpy()
    ref_mse = float(((ref.inverse_transform(ref.transform(held)) - held) ** 2).mean())
    assert heldout_mse(m) <= ref_mse + 1e-6  # clipping to [0, 1] can only help
    assert heldout_mse(m) == pytest.approx(ref_mse, rel=0.05)
    assert stats["loss"] == stats["recon"] and 0 < stats["explained_variance"] < 1


def test_streaming_pca_converges_to_the_full_batch_answer() -> None:
    full = build("pca", latent_dim=6)
    full.train_step(Batch(data("digits")[1].train))
    streamed = build("pca", latent_dim=6)
    train(streamed, 200)
    assert heldout_mse(streamed) == pytest.approx(heldout_mse(full), rel=0.02)


def test_pca_rejects_more_components_than_dimensions() -> None:
    with pytest.raises(BenchError, match="at most 2"):
        build("pca", "ring8", latent_dim=3)


def code_stats(model: str, **hparams: object) -> torch.Tensor:
    m = build(model, hidden=64, layers=1, **hparams)
    train(m, 150)
    with torch.no_grad():
        return m.encode(data("digits")[1].heldout)


def test_l1_penalty_sparsifies_the_code() -> None:
    dense, sparse = (code_stats("sparse_ae_l1", sparsity_weight=w) for w in (0.0, 0.05))
    assert (dense >= 0).all() and (sparse >= 0).all()
    # share of exact zeros: 0.36-0.47 without the penalty, 0.90-0.95 with it (three seeds)
    assert (sparse == 0).float().mean() > (dense == 0).float().mean() + 0.25
    assert sparse.sum(1).mean() < 0.5 * dense.sum(1).mean()


def test_kl_penalty_pulls_mean_activation_towards_rho() -> None:
    free, pulled = (code_stats("sparse_ae_kl", sparsity_weight=w, rho=0.05) for w in (0.0, 0.5))
    # mean activation: about 0.7 without the penalty, 0.05 with it (three seeds)
    assert abs(pulled.mean().item() - 0.05) < 0.03
    assert free.mean().item() > 0.3


@pytest.mark.parametrize("noise", ["gaussian", "masking"])
def test_denoising_corrupts_the_input_and_targets_the_clean_data(
    noise: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    m = build("denoising_ae", noise=noise, mask_prob=0.3, noise_std=0.3, **MLP_TINY)
    batch = next(batches(data("digits")[1], size=256))
    seen: dict[str, torch.Tensor] = {}
    encode, recon_loss = m.encode, m.recon_loss

    def spy_encode(x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        seen["input"] = x
        return encode(x)

    def spy_recon_loss(raw: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        seen["target"] = x
        return recon_loss(raw, x)

    monkeypatch.setattr(m, "encode", spy_encode)
    monkeypatch.setattr(m, "recon_loss", spy_recon_loss)
    m.train_step(batch)
    assert torch.equal(seen["target"], batch.x)  # clean target
    corrupted = seen["input"]
    assert not torch.equal(corrupted, batch.x)
    assert corrupted.min() >= 0 and corrupted.max() <= 1  # still in the value range
    if noise == "masking":
        was_on = batch.x > 0
        zeroed = (corrupted == 0) & was_on
        assert zeroed.sum() / was_on.sum() == pytest.approx(0.3, abs=0.03)
        assert torch.equal(corrupted[~(corrupted == 0)], batch.x[~(corrupted == 0)])


def test_beta_one_is_the_vae() -> None:
    runs = []
    for model, extra in (("vae", {}), ("beta_vae", {"beta": 1.0})):
        m = build(model, **MLP_TINY, **extra)  # build seeds, so both draw the same noise
        runs.append(train(m, 5))
    assert runs[0] == runs[1]


def test_beta_weights_the_kl_term_of_the_loss() -> None:
    for stats in train(build("beta_vae", beta=3.0, **MLP_TINY), 3):
        assert stats["loss"] == pytest.approx(stats["recon"] + 3.0 * stats["kl"], rel=1e-5)


def test_conv_networks_restore_every_image_side() -> None:
    assert conv_sides(8) == [8, 4] and conv_sides(28) == [28, 14, 7]
    for shape in ((1, 8, 8), (1, 28, 28), (3, 9, 13), (1, 4, 4)):
        info = DataInfo(shape=shape, kind="image", value_range=(0.0, 1.0))
        x = torch.rand(2, *shape)
        code = ConvEncoder(info, 4, 5, cond_dim=3)(x, torch.zeros(2, 3))
        assert code.shape == (2, 5)
        assert ConvDecoder(info, 4, 5)(code).shape == (2, *shape)


def test_conv_vae_trains_on_images() -> None:
    m = build("beta_vae", encoder="conv", conv_width=4, beta=1.0)
    stats = train(m, 20)
    assert stats[-1]["loss"] < stats[0]["loss"]


def test_cvae_needs_labels_and_samples_every_class(monkeypatch: pytest.MonkeyPatch) -> None:
    m = build("cvae", **MLP_TINY)
    with pytest.raises(ValueError, match="labels"):
        m.train_step(Batch(data("digits")[1].train[:8]))
    labels: list[int] = []
    decode_mean = m.decode_mean

    def spy(z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        labels.extend(y.tolist())
        return decode_mean(z, y)

    monkeypatch.setattr(m, "decode_mean", spy)
    m.sample(12, fixed())
    assert labels == [*range(10), 0, 1]


# --- ex-post densities ---------------------------------------------------------------------------


def test_gaussian_density_matches_the_codes_moments() -> None:
    gen = torch.Generator().manual_seed(0)
    mix = torch.tensor([[2.0, 0.0, 0.0], [1.0, 0.5, 0.0], [0.0, 0.3, 0.1]])
    codes = torch.randn(4000, 3, generator=gen) @ mix.T + torch.tensor([1.0, -2.0, 3.0])
    density = CodeDensity("gaussian", 3)
    density.fit(codes)
    draws = density.sample(20000, fixed())
    assert torch.allclose(draws.mean(0), codes.mean(0), atol=0.05)
    assert torch.allclose(torch.cov(draws.T), torch.cov(codes.T), atol=0.08)


def test_gmm_density_finds_separated_clusters_deterministically() -> None:
    gen = torch.Generator().manual_seed(0)
    centres = torch.tensor([[-5.0, 0.0], [5.0, 0.0]])
    codes = centres[torch.arange(3000) % 2] + 0.1 * torch.randn(3000, 2, generator=gen)
    a, b = CodeDensity("gmm", 2, components=2), CodeDensity("gmm", 2, components=2)
    a.fit(codes)
    b.fit(codes)
    assert torch.equal(a.means, b.means)
    assert sorted(a.weights.tolist()) == pytest.approx([0.5, 0.5], abs=0.02)
    draws = a.sample(2000, fixed())
    assert (draws[:, 0].abs() - 5).abs().max() < 1.0  # every draw near a cluster
    assert (draws[:, 0] > 0).float().mean() == pytest.approx(0.5, abs=0.05)


def test_gmm_with_more_components_than_codes_keeps_unused_at_weight_zero() -> None:
    density = CodeDensity("gmm", 2, components=8)
    density.fit(torch.randn(5, 2, generator=fixed()))
    assert (density.weights > 0).sum() == 5 and density.weights.sum() == pytest.approx(1.0)


def test_the_sampler_choice_is_used() -> None:
    _, splits = data("digits")
    ae = build("ae", sampler="gmm", gmm_components=3, **MLP_TINY)
    train(ae, 3)
    ae.fit_sampler(splits)
    assert ae.density.kind == "gmm" and len(ae.density.weights) == 3


# --- the expected orderings, on a small budget ---------------------------------------------------


# Small and quick to train: orderings that hold here hold at the suite's larger budget too.
QUICK = {"hidden": 64, "layers": 1, "lr": 3e-3, "batch_size": 128}


@cache
def trained(model: str, steps: int = 400, **hparams: object) -> GenerativeModel:
    m = build(model, **{**QUICK, **hparams})
    it = batches(data("digits")[1], size=128)
    for _ in range(steps):
        m.train_step(next(it))
    return m


@pytest.mark.slow
def test_reconstruction_error_falls_as_latent_dim_grows() -> None:
    # held-out MSE after 400 steps: about 0.043, 0.019, 0.013 (three seeds)
    errors = [heldout_mse(trained("ae", latent_dim=d)) for d in (2, 8, 32)]
    assert errors[0] > 1.5 * errors[1] and errors[1] > 1.2 * errors[2]


@pytest.mark.slow
def test_overcomplete_ae_reconstructs_better_than_the_vae() -> None:
    over = heldout_mse(trained("ae_overcomplete"))
    vae = heldout_mse(trained("vae"))
    assert over < 0.5 * vae  # about 0.010 vs 0.035 (three seeds)


@pytest.mark.slow
def test_larger_beta_lowers_the_kl_and_raises_reconstruction_error() -> None:
    _, splits = data("digits")
    low, high = (trained("beta_vae", beta=b) for b in (0.25, 4.0))
    kl = [m.neg_elbo(splits.heldout, fixed())[1].mean().item() for m in (low, high)]
    assert kl[0] > kl[1] + 3.0  # about 7.6 vs 0.01 nats (three seeds)
    assert heldout_mse(low) < 0.6 * heldout_mse(high)  # about 0.023 vs 0.074


# --- metrics -------------------------------------------------------------------------------------


class Shifted(torch.nn.Module):
    """Reconstructs every image as x + shift (shift larger for one class), for exact checks."""

    family = "autoencoder"

    def __init__(self, shift: float, odd_class: int | None = None) -> None:
        super().__init__()
        self.shift, self.odd_class = shift, odd_class
        self.dummy = torch.nn.Parameter(torch.zeros(()))

    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return x + self.shift

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")


def measured(
    name: str, model: object, splits: DataSplits, spec: EvalSpec | None = None
) -> dict[str, float]:
    """The metric's values on `model`, its probes run as the evaluator runs them."""
    spec = spec or EvalSpec(feature_space="classifier")
    metric = METRICS.get(name)
    probes, failed = run_probes(metric.probes, model, splits, spec)
    assert not failed
    empty = Features(torch.zeros(2, 1, dtype=torch.float64))
    info = data("digits")[0]
    inputs = EvalInputs(
        samples=torch.zeros(2, *info.shape),
        fake=empty,
        real=empty,
        spec=spec,
        info=info,
        probes=probes,
    )
    return metric.compute(inputs)


def test_reconstruction_metric_on_a_known_error() -> None:
    _, splits = data("digits")
    values = measured("reconstruction", Shifted(0.1), splits)
    assert values == {"recon_mse": pytest.approx(0.01)}


def test_autoencoder_metrics_refuse_models_they_cannot_measure() -> None:
    gan = MODELS.get("gan")
    for name in ("reconstruction", "elbo", "active_units"):
        assert unmeasurable(METRICS.get(name), gan) is not None
    assert unmeasurable(METRICS.get("anomaly"), gan) is None  # through its discriminator
    assert unmeasurable(METRICS.get("reconstruction"), MODELS.get("pca")) is None
    assert "`neg_elbo`" in unmeasurable(METRICS.get("elbo"), MODELS.get("ae"))
    assert unmeasurable(METRICS.get("active_units"), MODELS.get("beta_vae")) is None
    assert "labels" in unmeasurable(METRICS.get("anomaly"), MODELS.get("cvae"))
    anomaly = METRICS.get("anomaly")
    info = data("digits")[0]
    assert "exclude_class" in anomaly.applies(EvalSpec(feature_space="classifier"), info)
    assert anomaly.applies(EvalSpec(feature_space="classifier", anomaly_class=3), info) is None


def test_elbo_metric_reports_nats_with_the_nll_below_the_negative_elbo() -> None:
    _, splits = data("digits")
    m = trained("vae")
    values = measured("elbo", m, splits)
    assert set(values) == {"elbo", "kl", "nll"}
    assert values["kl"] > 0 and values["elbo"] < 0
    # importance sampling tightens the bound: NLL <= -ELBO (by about 0.3-1 nats here)
    assert values["nll"] < -values["elbo"]
    assert measured("elbo", m, splits) == values  # fixed draws


def test_importance_nll_with_one_sample_is_a_one_draw_bound() -> None:
    m = trained("vae")
    x = data("digits")[1].heldout[:200]
    one = m.importance_nll(x, k=1, generator=fixed()).mean()
    many = m.importance_nll(x, k=64, generator=fixed()).mean()
    assert many < one
    assert one.item() == pytest.approx(-m.elbo(x, fixed()).mean().item(), rel=0.05)


def test_active_units_counts_units_whose_posterior_mean_varies() -> None:
    gen = fixed()
    means = torch.cat(
        [torch.randn(500, 3, generator=gen), 0.01 * torch.randn(500, 2, generator=gen)], dim=1
    )
    assert active_units(means).tolist() == [True, True, True, False, False]
    with pytest.raises(MetricInputError):
        active_units(torch.zeros(1, 4))
    collapsed = trained("beta_vae", beta=4.0)
    used = trained("beta_vae", beta=0.25)
    splits = data("digits")[1]
    share = [measured("active_units", m, splits)["active_units"] for m in (collapsed, used)]
    assert share[0] < share[1]


def test_auroc_against_sklearn_and_by_hand() -> None:
    scores = torch.tensor([0.1, 0.4, 0.35, 0.8])
    positive = torch.tensor([False, False, True, True])
    assert auroc(scores, positive) == pytest.approx(0.75)  # 3 of 4 pairs ordered correctly
    rng = np.random.default_rng(0)
    s, p = rng.normal(size=200), rng.random(200) < 0.3
    assert auroc(torch.as_tensor(s), torch.as_tensor(p)) == pytest.approx(roc_auc_score(p, s))
    with pytest.raises(MetricInputError):
        auroc(scores, torch.zeros(4, dtype=torch.bool))


def test_anomaly_metric_scores_the_left_out_class() -> None:
    _, splits = data("digits", exclude_class=3)
    held_y = splits.heldout_labels

    class OddOut(Shifted):
        def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
            # a perfect detector: worse reconstructions exactly for the unseen class' images
            odd = (held_y[: len(x)] == 3).float().reshape(-1, 1, 1, 1)
            return x + 0.1 + 0.5 * odd

    spec = EvalSpec(feature_space="classifier", anomaly_class=3)
    values = measured("anomaly", OddOut(0.0), splits, spec)
    assert values == {"anomaly_auroc": 1.0}
    values = measured("anomaly", Shifted(0.0), splits, spec)
    assert values["anomaly_auroc"] == pytest.approx(0.5)  # every score ties: chance


def test_exclude_class_drops_it_from_training_only() -> None:
    _, full = data("digits")
    _, without = data("digits", exclude_class=3)
    assert (without.train_labels != 3).all() and (full.train_labels == 3).any()
    assert torch.equal(without.heldout, full.heldout)
    assert torch.equal(without.train, full.train[full.train_labels != 3])
    assert (
        DATASETS.get("digits")(
            DATASETS.get("digits").Params(exclude_class=3)
        ).eval_spec.anomaly_class
        == 3
    )


# --- latent traversal ----------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["ae", "vae", "pca", "cvae"])
def test_latent_traversal_png(model: str) -> None:
    import matplotlib.image

    info, splits = data("digits")
    m = build(model, **tiny(model))
    m.fit_sampler(splits)
    grid = latent_traversal(m, info, fixed())
    units = min(10, m.hparams.latent_dim)
    assert grid.shape == (units * 9, *info.shape)
    # within a row only one unit moves: the first and last image of a row differ
    assert not np.array_equal(grid[0], grid[8])
    png = latent_traversal_png(m, info, fixed())
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert matplotlib.image.imread(io.BytesIO(png)).ndim == 3
    assert latent_traversal_png(m, info, fixed()) == png


def test_no_traversal_for_points_or_models_without_a_decoder() -> None:
    info, _ = data("ring8")
    assert latent_traversal_png(build("ae", "ring8", **MLP_TINY), info, fixed()) is None
    assert latent_traversal_png(build("gan", hidden=16), data("digits")[0], fixed()) is None


# --- validation through the suite loader ---------------------------------------------------------

SUITE = """\
name: ae_check
seeds: [0]
budget: {{steps: 10, eval_every: 10, eval_samples: 100}}
datasets: [{datasets}]
models:
  - name: {model}
    hparams: {hparams}
tracking: {{wandb: disabled}}
"""


def suite_error(model: str, hparams: str = "{}", datasets: str = "digits") -> str:
    text = SUITE.format(model=model, hparams=hparams, datasets=datasets)
    with pytest.raises(SuiteError) as info:
        parse_suite(text, source="ae.yaml")
    return info.value.message()


@pytest.mark.parametrize(
    ("model", "reason"),
    [("conv_ae", "needs C×H×W images"), ("cvae", "conditions on class labels")],
)
def test_incompatible_datasets_are_rejected_with_the_reason(model: str, reason: str) -> None:
    assert reason in MODELS.get(model).incompatibility(data("ring8")[0])
    assert MODELS.get(model).incompatibility(data("digits")[0]) is None
    message = suite_error(model, datasets="digits, ring8")
    assert "ae.yaml:6" in message and f"cannot train on dataset 'ring8': it {reason}" in message


@pytest.mark.parametrize(
    ("model", "hparams", "needle"),
    [
        ("sparse_ae_kl", "{rho: 1.5}", "rho"),
        ("sparse_ae_kl", "{rho: 0}", "rho"),
        ("beta_vae", "{beta: -1}", "beta"),
        ("ae", "{latent_dim: 0}", "latent_dim"),
        ("conv_ae", "{latent_dim: 0}", "latent_dim"),
        ("ae_undercomplete", "{latent_ratio: 1.5}", "latent_ratio"),
        ("denoising_ae", "{noise: salt}", "noise"),
        ("ae", "{sampler: flow}", "sampler"),
    ],
)
def test_invalid_hyperparameters_are_rejected_with_a_line(
    model: str, hparams: str, needle: str
) -> None:
    message = suite_error(model, hparams)
    assert "ae.yaml:7" in message and needle in message


def test_a_valid_autoencoder_suite_expands() -> None:
    text = textwrap.dedent(
        SUITE.format(
            model="ae_undercomplete",
            hparams="{sampler: [gaussian, gmm], gmm_components: 4}",
            datasets="digits, {name: digits, params: {exclude_class: 0}}",
        )
    )
    suite = parse_suite(text)
    from bench.suite import expand

    trials = expand(suite)
    assert [t.variant for t in trials] == ["sampler=gaussian"] * 2 + ["sampler=gmm"] * 2
    assert "anomaly" in trials[1].metrics and "anomaly" not in trials[0].metrics
    assert "elbo" not in trials[0].metrics and "reconstruction" in trials[0].metrics
