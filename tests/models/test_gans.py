"""The GAN family: every variant's contract on points and on images, and each variant's twist
checked directly (gradient penalty, spectral norm, packing, unrolling, clipping, minibatch
discrimination, conditioning). Small networks and 8x8 digits keep the file fast."""

from __future__ import annotations

import copy
import math
import pickle
from collections.abc import Iterator

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from bench.data import DataInfo
from bench.models import MODELS, Batch
from bench.models.backbones import BACKBONES, Maxout, upsamplings
from bench.models.gan import LOSSES, GanBase, pack
from bench.models.gans import MinibatchDiscrimination, gradient_penalty
from tests.models import builders
from tests.models.builders import data, fixed

VARIANTS = [
    "gan",
    "dcgan",
    "cgan",
    "wgan",
    "wgan_gp",
    "lsgan",
    "sngan",
    "mbd_gan",
    "pacgan",
    "unrolled_gan",
]
IMAGE_ONLY = {"dcgan"}
LABELS_ONLY = {"cgan"}
WASSERSTEIN = {"wgan", "wgan_gp"}
DIAGNOSTICS = {"loss_d", "loss_g", "grad_norm_d", "grad_norm_g", "d_real", "d_fake"}
SMALL = {"hidden": 16, "layers": 2, "batch_size": 32}
FAST = {"wgan": {"d_steps": 2}, "wgan_gp": {"d_steps": 2}, "unrolled_gan": {"unroll_steps": 2}}


def cases() -> Iterator[tuple[str, str, str]]:
    """(variant, dataset, backbone) for every combination a variant supports."""
    for variant in VARIANTS:
        for dataset in ["ring8", "digits"]:
            if dataset == "ring8" and variant in IMAGE_ONLY | LABELS_ONLY:
                continue
            for backbone in ["mlp", "conv"]:
                if (backbone == "conv") == (dataset == "ring8") or (
                    variant in IMAGE_ONLY and backbone == "mlp"
                ):
                    continue
                yield variant, dataset, backbone
        if variant not in IMAGE_ONLY:
            yield variant, "digits", "mlp"


CASES = sorted(set(cases()))


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """These networks are tiny: a second intra-op thread only adds contention on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def build(variant: str, dataset: str, seed: int = 0, **hparams: object) -> GanBase:
    model = builders.build(variant, dataset, seed, **{**SMALL, **FAST.get(variant, {}), **hparams})
    assert isinstance(model, GanBase)
    return model


def batches(dataset: str, size: int = 32, seed: int = 0) -> Iterator[Batch]:
    info, splits = data(dataset)
    return builders.batches(
        splits.train, size, seed, splits.train_labels if info.num_classes else None
    )


def train(model: GanBase, dataset: str, steps: int, size: int = 32) -> list[dict[str, float]]:
    return builders.train(model, dataset, steps, size, labels=True)


def backbone_args(variant: str, backbone: str) -> dict[str, object]:
    return {} if variant in IMAGE_ONLY else {"backbone": backbone}


# --- registry and validation ---------------------------------------------------------------------


def test_every_variant_is_registered_as_a_gan_with_a_description() -> None:
    assert set(VARIANTS) <= set(MODELS.names())
    for name in VARIANTS:
        cls = MODELS.get(name)
        assert cls.family == "gan" and cls.description and issubclass(cls, GanBase)
        scores = name in WASSERSTEIN | {"lsgan", "sngan"}
        assert cls.discriminator_probabilities is not scores


@pytest.mark.parametrize(
    ("variant", "dataset", "reason"),
    [("dcgan", "ring8", "needs images"), ("cgan", "ring8", "needs class labels")],
)
def test_incompatible_data_is_refused_with_the_reason(
    variant: str, dataset: str, reason: str
) -> None:
    message = MODELS.get(variant).incompatibility(data(dataset)[0])
    assert message is not None and reason in message
    assert MODELS.get(variant).incompatibility(data("digits")[0]) is None


def test_an_explicit_conv_backbone_on_points_fails_at_build_time() -> None:
    with pytest.raises(ValueError, match="needs images"):
        build("gan", "ring8", backbone="conv")
    odd = DataInfo(shape=(1, 9, 9), kind="image", value_range=(0.0, 1.0))
    assert "square images whose side halves" in BACKBONES["conv"].incompatibility(odd)
    assert [upsamplings(s) for s in (8, 28, 32)] == [2, 2, 3]


def test_hparams_are_validated() -> None:
    for variant, bad in [
        ("pacgan", {"packing": 3, "batch_size": 32}),
        ("wgan", {"d_steps": 0}),
        ("dcgan", {"backbone": "mlp"}),
        ("sngan", {"loss": "minimax"}),
        ("gan", {"d_maxout": -1}),
    ]:
        with pytest.raises(ValueError):
            MODELS.get(variant).HParams(**bad)


# --- the contract, for every variant and backbone ------------------------------------------------


@pytest.mark.parametrize(("variant", "dataset", "backbone"), CASES)
def test_steps_report_the_diagnostics_and_samples_fit_the_data(
    variant: str, dataset: str, backbone: str
) -> None:
    info = data(dataset)[0]
    model = build(variant, dataset, **backbone_args(variant, backbone))
    stats = train(model, dataset, 2)[-1]
    expected = DIAGNOSTICS | ({"wasserstein"} if variant in WASSERSTEIN else set())
    assert expected <= set(stats)
    assert all(type(v) is float and math.isfinite(v) for v in stats.values()), stats
    x = model.sample(40, fixed())
    assert x.shape == (40, *info.shape) and x.dtype == torch.float32 and not x.requires_grad
    if info.value_range is not None:
        assert info.value_range[0] <= x.min() and x.max() <= info.value_range[1]
    assert model.training


@pytest.mark.parametrize("variant", VARIANTS)
def test_training_and_sampling_are_deterministic(variant: str) -> None:
    dataset = "ring8" if variant not in IMAGE_ONLY | LABELS_ONLY else "digits"
    runs = []
    for _ in range(2):
        model = build(variant, dataset, seed=5)
        runs.append((train(model, dataset, 3), model.sample(10, fixed())))
    assert runs[0][0] == runs[1][0] and torch.equal(runs[0][1], runs[1][1])
    state = torch.get_rng_state()
    assert not torch.equal(model.sample(10, fixed(1)), model.sample(10, fixed(2)))
    assert torch.equal(torch.get_rng_state(), state)  # sampling leaves the training stream alone


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_short_run_teaches_the_discriminator(variant: str) -> None:
    """Every discriminator/critic starts unable to tell real from fake and after 40 steps on 8x8
    digits scores real samples above generated ones: probabilities for the logistic losses, raw
    scores for critics, i.e. for the WGANs their Wasserstein estimate. (At lr 1e-3 across seeds
    0-2 the final gap is 0.14-1.5, and 2e-4-3e-4 for WGAN's clipped critic.)"""
    extra = {"d_steps": 5} if variant == "wgan_gp" else {}  # its estimate is noisy at d_steps 2
    stats = train(build(variant, "digits", lr=1e-3, **extra), "digits", 40)
    gap = [s["d_real"] - s["d_fake"] for s in stats]
    floor = 1e-4 if variant == "wgan" else 0.05  # weight clipping keeps WGAN's outputs tiny
    assert sum(gap[-15:]) / 15 > max(floor, 3 * abs(gap[0]))
    if variant in WASSERSTEIN:
        assert stats[-1]["wasserstein"] == pytest.approx(gap[-1])


def test_the_generator_loss_falls_on_points() -> None:
    """The plain GAN's generator improves against a fixed discriminator: one generator step on
    the same latent lowers its loss (the generator's half of `train_step` does its job)."""
    model = build("gan", "ring8")
    train(model, "ring8", 20)
    z = model.latent(64)
    before = model.objective.g_loss(model.discriminator(model.generator(z))).item()
    for _ in range(5):
        model.generator_step(next(batches("ring8", 64)).x, None)
    after = model.objective.g_loss(model.discriminator(model.generator(z))).item()
    assert after < before


@pytest.mark.parametrize("variant", VARIANTS)
def test_models_pickle_or_deepcopy_with_their_optimizers(variant: str) -> None:
    dataset = "ring8" if variant not in IMAGE_ONLY | LABELS_ONLY else "digits"
    model = build(variant, dataset)
    train(model, dataset, 2)
    assert set(model.training_state()["optimizers"]) == {"opt_d", "opt_g"}
    # Spectral-norm parametrizations serialise through state_dict only (as checkpoints do).
    clone = copy.deepcopy(model) if variant == "sngan" else pickle.loads(pickle.dumps(model))
    assert torch.equal(clone.sample(5, fixed()), model.sample(5, fixed()))


# --- losses --------------------------------------------------------------------------------------


def test_losses_at_their_optima() -> None:
    high, low = torch.full((4,), 5.0), torch.full((4,), -5.0)
    assert LOSSES["least_squares"].d_loss(torch.ones(4), torch.zeros(4)).item() == 0.0
    assert LOSSES["least_squares"].g_loss(torch.ones(4)).item() == 0.0
    assert LOSSES["hinge"].d_loss(torch.full((4,), 1.5), torch.full((4,), -1.0)).item() == 0.0
    assert LOSSES["hinge"].d_loss(torch.zeros(4), torch.zeros(4)).item() == 2.0
    assert LOSSES["wasserstein"].d_loss(high, low).item() == -10.0
    assert LOSSES["non_saturating"].d_loss(high, low).item() < 0.02
    # The minimax generator loss saturates where D rejects the fakes; the non-saturating does not.
    grads = {}
    for name in ["minimax", "non_saturating"]:
        fake = low.clone().requires_grad_(True)
        LOSSES[name].g_loss(fake).backward()
        grads[name] = fake.grad.abs().sum().item()
    assert grads["minimax"] < 0.01 < grads["non_saturating"]


# --- WGANs ---------------------------------------------------------------------------------------


def test_wgan_clips_the_critic_and_uses_rmsprop() -> None:
    model = build("wgan", "ring8", clip=0.01)
    assert isinstance(model.opt_d, torch.optim.RMSprop)
    train(model, "ring8", 3)
    assert max(p.abs().max().item() for p in model.discriminator.parameters()) <= 0.01


def test_gradient_penalty_of_a_linear_critic() -> None:
    """f(x) = w.x has gradient w everywhere: penalty (|w| - 1)^2 whatever the samples."""

    class Linear(nn.Module):
        def forward(self, x: torch.Tensor, y: object = None) -> torch.Tensor:
            return x @ torch.tensor([3.0, 4.0])

    penalty, norms = gradient_penalty(Linear(), torch.randn(8, 2), torch.randn(8, 2), None)
    assert penalty.item() == pytest.approx(16.0)
    assert torch.allclose(norms, torch.full((8,), 5.0))


def test_the_penalty_drives_the_critic_gradient_norm_toward_one() -> None:
    """Mean |grad norm - 1| at the interpolates: 0.8-0.9 at the start, 0.33-0.56 after 60 steps
    with lambda 10 and 0.74-0.9 without (seeds 1-3)."""
    logs = {
        w: train(build("wgan_gp", "ring8", seed=1, gp_weight=w, d_steps=1, lr=1e-3), "ring8", 60)
        for w in (10.0, 0.0)
    }

    def distance(stats: list[dict[str, float]]) -> float:
        return sum(abs(s["critic_grad_norm"] - 1) for s in stats) / len(stats)

    assert distance(logs[10.0][-20:]) < 0.75 * distance(logs[10.0][:5])
    assert distance(logs[10.0][-20:]) < distance(logs[0.0][-20:])


# --- spectral norm -------------------------------------------------------------------------------


@pytest.mark.parametrize(("dataset", "backbone"), [("ring8", "mlp"), ("digits", "conv")])
def test_every_sngan_layer_has_spectral_norm_one(dataset: str, backbone: str) -> None:
    model = build("sngan", dataset, backbone=backbone)
    train(model, dataset, 5)
    layers = [m for m in model.discriminator.modules() if parametrize.is_parametrized(m)]
    weighted = [m for m in model.discriminator.modules() if isinstance(m, nn.Linear | nn.Conv2d)]
    assert layers and len(layers) == len(weighted)
    for layer in layers:
        # Each training-mode access runs one power iteration; a few more let the estimate catch
        # up with the last update, as it does over the next training steps.
        with torch.no_grad():
            for _ in range(20):
                layer.weight  # noqa: B018
        sigma = torch.linalg.matrix_norm(layer.weight.detach().flatten(1), ord=2).item()
        assert sigma == pytest.approx(1.0, abs=0.05)


# --- packing -------------------------------------------------------------------------------------


def test_pack_joins_m_consecutive_samples_into_one_input() -> None:
    x = torch.arange(24.0).reshape(6, 2, 1, 2)
    packed = pack(x, 3)
    assert packed.shape == (2, 6, 1, 2)
    assert torch.equal(packed[1], torch.cat(list(x[3:6]), dim=0))
    assert torch.equal(pack(x, 1), x)
    with pytest.raises(ValueError, match="cannot be packed"):
        pack(x, 4)


def test_pacgan_discriminator_scores_packs_and_samples_stay_unpacked() -> None:
    model = build("pacgan", "ring8", packing=4)
    first = next(m for m in model.discriminator.modules() if isinstance(m, nn.Linear))
    assert first.in_features == 2 * 4
    assert model.discriminator(torch.randn(32, 2)).shape == (8,)
    assert model.sample(30, fixed()).shape == (30, 2)


def test_pacgan_with_packing_one_is_the_plain_gan() -> None:
    runs, stats = [], []
    for name, hp in [("gan", {}), ("pacgan", {"packing": 1})]:
        runs.append(build(name, "ring8", seed=2, **hp))  # seeds the global stream, then trains
        stats.append(train(runs[-1], "ring8", 3))
    assert stats[0] == stats[1]
    assert torch.equal(runs[0].sample(10, fixed()), runs[1].sample(10, fixed()))


def test_pacgan_table1_configuration() -> None:
    """PacGAN's 2-D experiments (Lin et al. 2018, Table 1): G 4x400 BatchNorm+ReLU on 2-d noise,
    D 3 maxout layers of 200 units with 5 pieces on 2 x m inputs, N(0, 0.02) weights."""
    hp = dict(
        latent_dim=2, g_hidden=400, g_layers=4, g_batchnorm=True, d_hidden=200, d_layers=3,
        d_maxout=5, init_std=0.02, lr=1e-4, beta1=0.8, batch_size=100, packing=2,
    )  # fmt: skip
    model = build("pacgan", "ring8", **hp)
    g_linears = [m for m in model.generator.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in g_linears] == [(2, 400)] + [(400, 400)] * 3 + [
        (400, 2)
    ]
    assert sum(isinstance(m, nn.BatchNorm1d) for m in model.generator.modules()) == 4
    maxouts = [m for m in model.discriminator.modules() if isinstance(m, Maxout)]
    assert [(m.linear.in_features, m.out_dim, m.pieces) for m in maxouts] == [
        (4, 200, 5),
        (200, 200, 5),
        (200, 200, 5),
    ]
    weights = torch.cat([m.weight.flatten() for m in g_linears])
    assert weights.std().item() == pytest.approx(0.02, rel=0.05)
    assert model.opt_g.defaults["betas"][0] == 0.8 and model.opt_g.defaults["lr"] == 1e-4
    assert train(model, "ring8", 2, size=100)[-1]["loss_d"] > 0


# --- unrolling -----------------------------------------------------------------------------------


def test_unrolling_leaves_the_real_discriminator_and_its_optimizer_alone() -> None:
    model = build("unrolled_gan", "ring8", unroll_steps=3)
    train(model, "ring8", 2)
    d_before = copy.deepcopy(model.discriminator.state_dict())
    opt_before = copy.deepcopy(model.opt_d.state_dict())
    g_before = copy.deepcopy(model.generator.state_dict())
    model.generator_step(next(batches("ring8")).x, None)
    d_after, opt_after = model.discriminator.state_dict(), model.opt_d.state_dict()
    assert all(torch.equal(d_before[k], d_after[k]) for k in d_before)
    for key, state in opt_before["state"].items():
        assert all(torch.equal(v, opt_after["state"][key][n]) for n, v in state.items())
    assert any(not torch.equal(v, model.generator.state_dict()[k]) for k, v in g_before.items())
    assert all(p.requires_grad for p in model.discriminator.parameters())


def test_the_generator_plays_against_the_unrolled_discriminator() -> None:
    """Same weights, same draws: with k > 0 G's update differs from the k = 0 (plain GAN) one."""
    updates = []
    for k in (0, 3):
        model = build("unrolled_gan", "ring8", seed=4, unroll_steps=k)
        train(model, "ring8", 5)
        torch.manual_seed(9)
        model.generator_step(next(batches("ring8")).x, None)
        updates.append(torch.cat([p.flatten() for p in model.generator.parameters()]))
    assert not torch.equal(*updates)


# --- minibatch discrimination and conditioning ---------------------------------------------------


def test_minibatch_discrimination_measures_closeness_within_the_batch() -> None:
    layer = MinibatchDiscrimination(in_dim=3, kernels=4, dims=2)
    same = layer(torch.ones(5, 3))
    assert same.shape == (5, 3 + 4) and torch.allclose(same[:, 3:], torch.ones(5, 4))
    far = layer(torch.arange(5.0)[:, None].expand(5, 3) * 1e3)
    assert torch.allclose(far[:, 3:], torch.zeros(5, 4), atol=1e-6)
    model = build("mbd_gan", "ring8", mbd_kernels=7)
    assert any(isinstance(m, MinibatchDiscrimination) for m in model.discriminator.modules())


@pytest.mark.parametrize("backbone", ["mlp", "conv"])
def test_cgan_outputs_depend_on_the_label(backbone: str) -> None:
    model = build("cgan", "digits", backbone=backbone)
    train(model, "digits", 3)
    z = model.latent(10, fixed())
    with torch.no_grad():
        model.eval()
        zeros = model.generator(z, torch.zeros(10, dtype=torch.long))
        ones = model.generator(z, torch.ones(10, dtype=torch.long))
        x = data("digits")[1].train[:10]
        assert not torch.allclose(
            model.discriminator(x, torch.zeros(10, dtype=torch.long)),
            model.discriminator(x, torch.ones(10, dtype=torch.long)),
        )
    assert not torch.allclose(zeros, ones)
    with pytest.raises(ValueError, match="labelled batches"):
        model.train_step(Batch(data("digits")[1].train[:32]))
