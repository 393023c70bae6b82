"""The GAN base every variant subclasses (mimicry-style: a small base owns the protocol, each
variant owns its loss and its twist), the objectives in `LOSSES`, and the vanilla GAN
(Goodfellow et al., 2014).

One `train_step` is `critic_steps()` discriminator updates on the step's real batch, then one
generator update. Networks come from `bench.models.backbones` (`backbone: mlp | conv`), so every
loss runs on 2-D points and on images. Variants override small hooks: the objective, the number
of critic steps, the optimizer, a penalty added to D's loss, what happens after a D update, the
packing degree, extra D layers, label conditioning, and what the generator plays against.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from bench.data.base import DataInfo
from bench.models.backbones import BACKBONES, Backbone, init_normal
from bench.models.base import ADVERSARIAL_DIAGNOSTICS, MODELS, Batch, GenerativeModel, HParams
from bench.models.nets import descend, frozen, grad_norm, inference, standard_normal

# --- objectives ----------------------------------------------------------------------------------
# D's raw outputs on real and generated samples -> a loss to minimise. Module-level functions, so a
# model holding them still pickles.


def bce_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """-log D(x) - log(1 - D(G(z))) on logits, written with softplus for numerical stability."""
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def non_saturating_g(fake: torch.Tensor) -> torch.Tensor:
    """-log D(G(z)): strong gradients early on, when D easily rejects the fakes."""
    return F.softplus(-fake).mean()


def minimax_g(fake: torch.Tensor) -> torch.Tensor:
    """log(1 - D(G(z))): the original minimax objective, which saturates when D wins."""
    return -F.softplus(fake).mean()


def wasserstein_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """The critic maximises E[f(x)] - E[f(G(z))], the Kantorovich-Rubinstein dual estimate."""
    return fake.mean() - real.mean()


def wasserstein_g(fake: torch.Tensor) -> torch.Tensor:
    return -fake.mean()


def least_squares_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """LSGAN with a=0 (fake target), b=1 (real target) (Mao et al. 2017, eq. 2)."""
    return 0.5 * (real - 1).pow(2).mean() + 0.5 * fake.pow(2).mean()


def least_squares_g(fake: torch.Tensor) -> torch.Tensor:
    """c=1: G wants D to call its samples real."""
    return 0.5 * (fake - 1).pow(2).mean()


def hinge_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Hinge loss as in SNGAN (Miyato et al. 2018) and Geometric GAN."""
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


def probability(out: torch.Tensor) -> float:
    return torch.sigmoid(out).mean().item()


def raw(out: torch.Tensor) -> float:
    return out.mean().item()


@dataclass(frozen=True)
class Objective:
    d_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    g_loss: Callable[[torch.Tensor], torch.Tensor]
    # What `d_real` / `d_fake` report: mean D(x) as a probability for the logistic losses; for
    # critics (Wasserstein), least-squares and hinge discriminators the mean raw output, since
    # those outputs are scores, not probabilities.
    summary: Callable[[torch.Tensor], float]


LOSSES: dict[str, Objective] = {
    "minimax": Objective(bce_d, minimax_g, probability),
    "non_saturating": Objective(bce_d, non_saturating_g, probability),
    "wasserstein": Objective(wasserstein_d, wasserstein_g, raw),
    "least_squares": Objective(least_squares_d, least_squares_g, raw),
    "hinge": Objective(hinge_d, wasserstein_g, raw),
}

# --- hyperparameters -----------------------------------------------------------------------------


class GanHParams(HParams):
    """What every GAN variant accepts: the latent, the backbone and the shape of both players.
    Inherits `batch_size` (128) and `lr` (2e-4, both players) from HParams."""

    # One knob, one name across every GAN: the names it had in single variants' papers are
    # refused with the new name as the suggestion, never silently ignored.
    renamed: ClassVar[dict[str, str]] = {"n_critic": "d_steps", "n_dis": "d_steps"}

    latent_dim: int = Field(16, ge=1, description="size of the generator's Gaussian latent")
    backbone: Literal["mlp", "conv"] = Field(
        "mlp", description="mlp: flattened data (points, images); conv: DCGAN layers (images)"
    )
    hidden: int = Field(
        128, ge=1, description="width of both players: units per MLP layer, base conv channels"
    )
    layers: int = Field(3, ge=1, description="hidden layers of both MLP players")
    g_hidden: int | None = Field(None, ge=1, description="generator width; None: `hidden`")
    g_layers: int | None = Field(None, ge=1, description="generator MLP layers; None: `layers`")
    g_batchnorm: bool = Field(
        False, description="BatchNorm after each MLP generator layer (the conv one always has it)"
    )
    d_hidden: int | None = Field(None, ge=1, description="discriminator width; None: `hidden`")
    d_layers: int | None = Field(None, ge=1, description="discriminator MLP layers; None: `layers`")
    d_maxout: int = Field(
        0, ge=0, description="maxout pieces per MLP discriminator unit; 0 or 1: LeakyReLU(0.2)"
    )
    d_batchnorm: bool = Field(False, description="BatchNorm in the discriminator's hidden layers")
    init_std: float | None = Field(
        None, gt=0.0, description="weights drawn from N(0, init_std); None: PyTorch's default"
    )
    d_steps: int = Field(1, ge=1, description="discriminator updates per generator update")
    beta1: float = Field(0.5, ge=0.0, lt=1.0, description="Adam beta1, both players")
    beta2: float = Field(0.999, ge=0.0, lt=1.0, description="Adam beta2, both players")
    embed_dim: int = Field(
        16, ge=1, description="label embedding width of the MLP backbone (conditional GANs)"
    )


class StandardGanHParams(GanHParams):
    """The logistic (Goodfellow) GAN game with k discriminator steps per generator step."""

    loss: Literal["non_saturating", "minimax"] = Field(
        "non_saturating", description="generator objective: -log D(G(z)) or log(1 - D(G(z)))"
    )


# --- the players ---------------------------------------------------------------------------------


class Generator(nn.Module):
    """z [+ label code] -> samples in data space (B, *info.shape)."""

    def __init__(self, backbone: Backbone, net: nn.Module, encode: nn.Module | None) -> None:
        super().__init__()
        self.join, self.net, self.encode = backbone.join_g, net, encode

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        code = None if self.encode is None else self.encode(y)
        return self.net(self.join(z, code))


class Critic(nn.Module):
    """The discriminator: data [+ label code] -> `packing` samples joined into one input -> body
    features -> optional extra layer (minibatch discrimination) -> one raw score per input."""

    def __init__(
        self,
        backbone: Backbone,
        body: nn.Module,
        head: nn.Module,
        extra: nn.Module | None = None,
        encode: nn.Module | None = None,
        packing: int = 1,
    ) -> None:
        super().__init__()
        self.join, self.body, self.head = backbone.join_d, body, head
        self.extra = nn.Identity() if extra is None else extra
        self.encode, self.packing = encode, packing

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        joined = self.join(x, None if self.encode is None else self.encode(y))
        return self.head(self.extra(self.body(pack(joined, self.packing)))).squeeze(-1)


def pack(x: torch.Tensor, m: int) -> torch.Tensor:
    """(B, W, ...) -> (B/m, m*W, ...): each run of m consecutive samples becomes one input,
    concatenated along the feature/channel axis (PacGAN, Lin et al. 2018)."""
    if m == 1:
        return x
    if len(x) % m:
        raise ValueError(f"a batch of {len(x)} cannot be packed in groups of {m}")
    return x.reshape(len(x) // m, m * x.shape[1], *x.shape[2:])


# --- the base ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DRound:
    """What one discriminator update's loss sees: the real and generated samples, D's outputs on
    each, and the class labels (None when unconditional). One record, so loss hooks that extend
    `d_loss` take and pass on a single argument."""

    real: torch.Tensor
    fake: torch.Tensor
    real_out: torch.Tensor
    fake_out: torch.Tensor
    y: torch.Tensor | None


class GanBase(GenerativeModel):
    """A GAN whose players come from a backbone and whose game is `LOSSES[self.loss_name()]`."""

    family = "gan"
    HParams: ClassVar[type[GanHParams]] = GanHParams
    hparams: GanHParams
    loss: ClassVar[str] = "non_saturating"  # variants with a fixed objective set this
    conditional: ClassVar[bool] = False  # the players need class labels y (cgan)
    # The logistic losses' D outputs logits of P(real); variants scoring with a critic, least
    # squares or hinge set this to False.
    discriminator_probabilities = True
    diagnostics = ADVERSARIAL_DIAGNOSTICS

    @classmethod
    def incompatibility(cls, info: DataInfo) -> str | None:
        # Judged with the variant's default backbone: the hook sees no hparams, so an explicit
        # `backbone: conv` on points is refused when the model is built instead (see __init__).
        return BACKBONES[cls.HParams.model_fields["backbone"].default].incompatibility(info)

    def __init__(self, hparams: GanHParams, info: DataInfo) -> None:
        super().__init__(hparams, info)
        h = hparams
        backbone = BACKBONES[h.backbone]
        reason = backbone.incompatibility(info) or self.data_incompatibility(info)
        if reason is not None:
            raise ValueError(f"{type(self).__name__} with backbone '{h.backbone}': {reason}")
        g_code, d_code, width = self.label_codes(backbone, info)
        self.generator = Generator(backbone, backbone.generator(h, info, width), g_code)
        body, features = backbone.discriminator(h, info, width, self.packing())
        extra, features = self.extra_layer(features)
        self.discriminator = Critic(
            backbone, body, nn.Linear(features, 1), extra, d_code, self.packing()
        )
        init_normal(self, h.init_std)
        self.prepare_discriminator()
        self.opt_g = self.optimizer(self.generator)
        self.opt_d = self.optimizer(self.discriminator)
        self.objective = LOSSES[self.loss_name()]
        # what d_real / d_fake are follows the objective a `loss:` hyperparameter chose
        self.discriminator_probabilities = self.objective.summary is probability

    # --- hooks the variants override ---

    def loss_name(self) -> str:
        return getattr(self.hparams, "loss", self.loss)

    def critic_steps(self) -> int:
        return self.hparams.d_steps

    def packing(self) -> int:
        return 1

    def data_incompatibility(self, info: DataInfo) -> str | None:
        return None

    def label_codes(
        self, backbone: Backbone, info: DataInfo
    ) -> tuple[nn.Module | None, nn.Module | None, int]:
        """Label encoders of G and D and their width; unconditional GANs have none."""
        return None, None, 0

    def labels(self, batch: Batch) -> torch.Tensor | None:
        """The labels the players are conditioned on during training; None: unconditional."""
        return None

    def sample_labels(self, n: int, generator: torch.Generator | None) -> torch.Tensor | None:
        return None

    def extra_layer(self, features: int) -> tuple[nn.Module | None, int]:
        """A layer between D's body and its output, and the width it outputs."""
        return None, features

    def prepare_discriminator(self) -> None:
        """Called once the discriminator is built and initialised (spectral norm goes here)."""

    def optimizer(self, player: nn.Module) -> torch.optim.Optimizer:
        h = self.hparams
        return torch.optim.Adam(player.parameters(), lr=h.lr, betas=(h.beta1, h.beta2))

    def d_loss(self, r: DRound) -> tuple[torch.Tensor, dict[str, float]]:
        """D's loss and its diagnostics; penalties extend this."""
        loss = self.objective.d_loss(r.real_out, r.fake_out)
        stats = {
            "loss_d": loss.item(),
            "d_real": self.objective.summary(r.real_out),
            "d_fake": self.objective.summary(r.fake_out),
        }
        return loss, stats

    def after_d_step(self) -> None:
        """Called after every discriminator update (weight clipping goes here)."""

    def opponent(
        self, fake: torch.Tensor, real: torch.Tensor, y: torch.Tensor | None
    ) -> torch.Tensor:
        """D's outputs on the generator's samples, as the generator's loss sees them."""
        return self.discriminator(fake, y)

    # --- the protocol ---

    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return standard_normal(n, self.hparams.latent_dim, self.device, generator)

    def train_step(self, batch: Batch) -> dict[str, float]:
        batch = batch.to(self.device)
        y = self.labels(batch)
        # Every critic step sees the step's real batch (the loop hands one batch per step) against
        # fresh generated samples.
        d_stats = [self.discriminator_step(batch.x, y) for _ in range(self.critic_steps())]
        # D's diagnostics are those of its last update, the D the generator then plays against.
        return {**d_stats[-1], **self.generator_step(batch.x, y)}

    def discriminator_step(self, real: torch.Tensor, y: torch.Tensor | None) -> dict[str, float]:
        with torch.no_grad():
            fake = self.generator(self.latent(len(real)), y)
        real_out, fake_out = self.discriminator(real, y), self.discriminator(fake, y)
        loss, stats = self.d_loss(DRound(real, fake, real_out, fake_out, y))
        descend(self.opt_d, loss)
        self.after_d_step()
        return {**stats, "grad_norm_d": grad_norm(self.discriminator)}

    def generator_step(self, real: torch.Tensor, y: torch.Tensor | None) -> dict[str, float]:
        fake = self.generator(self.latent(len(real)), y)
        with frozen(self.discriminator):
            loss = self.objective.g_loss(self.opponent(fake, real, y))
            descend(self.opt_g, loss)
        return {"loss_g": loss.item(), "grad_norm_g": grad_norm(self.generator)}

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        with inference(self):
            return self.generator(self.latent(n, generator), self.sample_labels(n, generator))

    # --- abilities the evaluator's probes use (bench.models.abilities) ---

    def generate(self, z: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """G(z), differentiable in z, in the mode the model is in (Generates). Unconditional:
        a conditional GAN needs labels here, so the metrics that use it refuse those."""
        return self.generator(z.to(self.device), None)

    def discriminate(self, x: torch.Tensor) -> torch.Tensor:
        """D's raw score per image (B,), higher = more real (Discriminates). A packing D
        (PacGAN) sees each image packed with copies of itself, so it scores images one by one."""
        with inference(self):
            return self.discriminator(x.to(self.device).repeat_interleave(self.packing(), 0), None)


@MODELS.register("gan")
class Gan(GanBase):
    description = "vanilla GAN (Goodfellow 2014): minimax or non-saturating loss, k D steps"
    HParams: ClassVar[type[StandardGanHParams]] = StandardGanHParams
    hparams: StandardGanHParams
