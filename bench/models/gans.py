"""GAN variants on the shared base (`bench.models.gan.GanBase`): each owns its loss and its one
twist over the vanilla GAN, and overrides only the hooks that twist needs."""

from __future__ import annotations

import copy
from typing import ClassVar, Literal

import torch
from pydantic import Field, model_validator
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from bench.data.base import DataInfo
from bench.models.backbones import Backbone
from bench.models.base import ADVERSARIAL_DIAGNOSTICS, MODELS, Batch, Diagnostic
from bench.models.gan import DRound, GanBase, GanHParams, StandardGanHParams
from bench.models.nets import descend

# --- DCGAN ---------------------------------------------------------------------------------------


class DcganHParams(StandardGanHParams):
    backbone: Literal["conv"] = Field("conv", description="DCGAN layers only")
    hidden: int = Field(32, ge=1, description="base channels of both players")
    d_batchnorm: bool = Field(True, description="BatchNorm in D after its first layer (DCGAN)")
    init_std: float | None = Field(0.02, gt=0.0, description="weights drawn from N(0, init_std)")


@MODELS.register("dcgan")
class Dcgan(GanBase):
    description = "DCGAN (Radford 2016): strided conv players, BatchNorm, non-saturating loss"
    HParams: ClassVar[type[DcganHParams]] = DcganHParams


# --- conditional GAN -----------------------------------------------------------------------------


@MODELS.register("cgan")
class Cgan(GanBase):
    """Both players see the label: an embedding concatenated to z / the flattened input on the
    MLP backbone, one-hot channels (a constant map per class in D) on the conv backbone."""

    description = "conditional GAN (Mirza 2014): generator and discriminator see the class label"
    conditional = True
    HParams: ClassVar[type[StandardGanHParams]] = StandardGanHParams
    hparams: StandardGanHParams

    @classmethod
    def incompatibility(cls, info: DataInfo) -> str | None:
        if info.num_classes is None:
            return "a conditional GAN needs class labels and this dataset has none"
        return super().incompatibility(info)

    def data_incompatibility(self, info: DataInfo) -> str | None:
        return None if info.num_classes else "needs class labels (info.num_classes is None)"

    def label_codes(
        self, backbone: Backbone, info: DataInfo
    ) -> tuple[nn.Module | None, nn.Module | None, int]:
        assert info.num_classes is not None  # see data_incompatibility
        g_code, width = backbone.label_encoder(info.num_classes, self.hparams)
        d_code, _ = backbone.label_encoder(info.num_classes, self.hparams)
        return g_code, d_code, width

    def labels(self, batch: Batch) -> torch.Tensor | None:
        # Generated samples take the real batch's labels, so both sides of D's loss share one
        # label mix.
        if batch.y is None:
            raise ValueError("cgan needs labelled batches (Batch.y is None)")
        return batch.y

    def sample_labels(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        k = self.info.num_classes
        assert k is not None
        if generator is None:
            return torch.randint(k, (n,), device=self.device)
        return torch.randint(k, (n,), generator=generator, device=generator.device).to(self.device)


# --- Wasserstein GANs ----------------------------------------------------------------------------


class CriticHParams(GanHParams):
    d_steps: int = Field(5, ge=1, description="critic updates per generator update")


class WganHParams(CriticHParams):
    lr: float = Field(5e-5, gt=0.0, description="RMSprop learning rate, both players")
    clip: float = Field(0.01, gt=0.0, description="critic weights clipped to [-clip, clip]")


class WassersteinBase(GanBase):
    loss = "wasserstein"
    discriminator_probabilities = False
    hparams: CriticHParams
    diagnostics = {
        **ADVERSARIAL_DIAGNOSTICS,
        "wasserstein": Diagnostic(
            "the critic's estimate of W(real, generated): E D(x) - E D(G(z))"
        ),
    }

    def d_loss(self, r: DRound) -> tuple[torch.Tensor, dict[str, float]]:
        loss, stats = super().d_loss(r)
        # The critic's estimate of W(P_data, P_G) up to its Lipschitz constant.
        return loss, {**stats, "wasserstein": (r.real_out.mean() - r.fake_out.mean()).item()}


@MODELS.register("wgan")
class Wgan(WassersteinBase):
    description = "WGAN (Arjovsky 2017): Wasserstein critic kept Lipschitz by weight clipping"
    HParams: ClassVar[type[WganHParams]] = WganHParams
    hparams: WganHParams

    def optimizer(self, player: nn.Module) -> torch.optim.Optimizer:
        # Momentum-based optimizers destabilise the clipped critic (Arjovsky et al. 2017, sec. 4).
        return torch.optim.RMSprop(player.parameters(), lr=self.hparams.lr)

    def after_d_step(self) -> None:
        with torch.no_grad():
            for p in self.discriminator.parameters():
                p.clamp_(-self.hparams.clip, self.hparams.clip)


class WganGpHParams(CriticHParams):
    lr: float = Field(1e-4, gt=0.0, description="Adam learning rate, both players")
    beta1: float = Field(0.0, ge=0.0, lt=1.0, description="Adam beta1 (Gulrajani 2017: 0)")
    beta2: float = Field(0.9, ge=0.0, lt=1.0, description="Adam beta2 (Gulrajani 2017: 0.9)")
    gp_weight: float = Field(10.0, ge=0.0, description="lambda, weight of the gradient penalty")


def gradient_penalty(
    critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, y: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """E[(||grad_x f(x_hat)||_2 - 1)^2] at random points x_hat on lines between real and fake
    samples (Gulrajani et al. 2017, eq. 3), and the per-sample gradient norms."""
    eps = torch.rand(len(real), *([1] * (real.dim() - 1)), device=real.device)
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat, y).sum(), x_hat, create_graph=True)
    norms = grad.reshape(len(grad), -1).norm(dim=1)
    return (norms - 1).pow(2).mean(), norms


@MODELS.register("wgan_gp")
class WganGp(WassersteinBase):
    description = "WGAN-GP (Gulrajani 2017): Wasserstein critic with a gradient-norm penalty"
    HParams: ClassVar[type[WganGpHParams]] = WganGpHParams
    hparams: WganGpHParams
    diagnostics = {
        **WassersteinBase.diagnostics,
        "gradient_penalty": Diagnostic("λ·E(‖∇D(x̂)‖ - 1)² at random interpolates (before λ)"),
        "critic_grad_norm": Diagnostic("mean ‖∇D(x̂)‖ at the interpolates (1 for a 1-Lipschitz D)"),
    }

    def d_loss(self, r: DRound) -> tuple[torch.Tensor, dict[str, float]]:
        loss, stats = super().d_loss(r)
        penalty, norms = gradient_penalty(self.discriminator, r.real, r.fake, r.y)
        total = loss + self.hparams.gp_weight * penalty
        return total, {
            **stats,
            "loss_d": total.item(),
            "gradient_penalty": penalty.item(),
            "critic_grad_norm": norms.mean().item(),
        }


# --- least squares, hinge + spectral norm --------------------------------------------------------


@MODELS.register("lsgan")
class Lsgan(GanBase):
    description = "LSGAN (Mao 2017): least-squares discriminator, targets a=0, b=1, c=1"
    discriminator_probabilities = False
    HParams: ClassVar[type[GanHParams]] = GanHParams
    loss = "least_squares"


@MODELS.register("sngan")
class Sngan(GanBase):
    description = "SNGAN (Miyato 2018): hinge loss, spectral norm on every discriminator layer"
    discriminator_probabilities = False
    HParams: ClassVar[type[GanHParams]] = GanHParams
    loss = "hinge"

    def prepare_discriminator(self) -> None:
        # Listed first: registering a parametrization adds modules while we would be walking them.
        layers = [
            m
            for m in self.discriminator.modules()
            if isinstance(m, nn.Linear | nn.Conv2d | nn.ConvTranspose2d)
        ]
        for layer in layers:
            spectral_norm(layer)


# --- minibatch discrimination --------------------------------------------------------------------


class MinibatchDiscrimination(nn.Module):
    """Salimans et al. 2016, sec. 3.2: features f (N, A) times a tensor T (A, B x C) give B rows
    M_i,b of C dims per sample; o(x_i)_b = sum_{j != i} exp(-||M_i,b - M_j,b||_L1). The B outputs
    are appended to f, so D can see how alike the samples of a batch are. We divide the sum by
    N - 1 (a mean over the others): the same feature up to a constant the output layer absorbs,
    but in [0, 1], so an untrained D is not saturated by sums of up to N - 1."""

    def __init__(self, in_dim: int, kernels: int, dims: int) -> None:
        super().__init__()
        self.kernels, self.dims = kernels, dims
        self.T = nn.Parameter(torch.randn(in_dim, kernels * dims) * 0.1)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        m = (f @ self.T).view(len(f), self.kernels, self.dims).transpose(0, 1)  # (B, N, C)
        l1 = torch.cdist(m, m, p=1)  # (B, N, N), without an (N, N, B, C) difference tensor
        # Minus exp(0) = 1, each sample's match with itself.
        closeness = (torch.exp(-l1).sum(dim=2).T - 1) / max(len(f) - 1, 1)
        return torch.cat([f, closeness], dim=1)


class MbdGanHParams(StandardGanHParams):
    mbd_kernels: int = Field(16, ge=1, description="B, minibatch-discrimination kernels")
    mbd_dims: int = Field(4, ge=1, description="C, dimensions of each kernel's rows")


@MODELS.register("mbd_gan")
class MbdGan(GanBase):
    description = "GAN with minibatch discrimination (Salimans 2016) before D's output"
    HParams: ClassVar[type[MbdGanHParams]] = MbdGanHParams
    hparams: MbdGanHParams

    def extra_layer(self, features: int) -> tuple[nn.Module | None, int]:
        h = self.hparams
        layer = MinibatchDiscrimination(features, h.mbd_kernels, h.mbd_dims)
        return layer, features + h.mbd_kernels


# --- PacGAN --------------------------------------------------------------------------------------


class PacGanHParams(StandardGanHParams):
    packing: int = Field(2, ge=1, description="m, samples packed into one discriminator input")

    @model_validator(mode="after")
    def _batch_packs_evenly(self) -> PacGanHParams:
        if self.batch_size % self.packing:
            raise ValueError(
                f"batch_size ({self.batch_size}) must be a multiple of packing ({self.packing})"
            )
        return self


@MODELS.register("pacgan")
class PacGan(GanBase):
    """D judges m samples at once (all real or all generated), which penalises a generator whose
    samples lack diversity. With packing 1 it is exactly `gan`. Sampling is unpacked."""

    description = "PacGAN (Lin 2018): D sees m packed samples at once, against mode collapse"
    HParams: ClassVar[type[PacGanHParams]] = PacGanHParams
    hparams: PacGanHParams

    def packing(self) -> int:
        return self.hparams.packing


# --- unrolled GAN --------------------------------------------------------------------------------


class UnrolledGanHParams(StandardGanHParams):
    unroll_steps: int = Field(5, ge=0, description="k, D updates the generator looks ahead")


@MODELS.register("unrolled_gan")
class UnrolledGan(GanBase):
    """The generator plays against a copy of D advanced `unroll_steps` updates (Metz et al. 2017)
    with D's own optimizer state. First-order surrogate: G's gradient is that of its loss against
    the unrolled D, without differentiating through the unrolled updates (the second-order term
    of the paper's eq. 12). The copy and its optimizer live only inside the step, so the real D,
    its optimizer state and `training_state()` are untouched."""

    description = "unrolled GAN (Metz 2017): G's loss is taken against D unrolled k steps ahead"
    HParams: ClassVar[type[UnrolledGanHParams]] = UnrolledGanHParams
    hparams: UnrolledGanHParams

    def opponent(
        self, fake: torch.Tensor, real: torch.Tensor, y: torch.Tensor | None
    ) -> torch.Tensor:
        if self.hparams.unroll_steps == 0:
            return self.discriminator(fake, y)
        ahead = self.unrolled(real, y)
        ahead.requires_grad_(False)
        return ahead(fake, y)

    def unrolled(self, real: torch.Tensor, y: torch.Tensor | None) -> nn.Module:
        """A copy of D trained `unroll_steps` more steps on `real` and fresh fakes."""
        ahead = copy.deepcopy(self.discriminator)
        ahead.requires_grad_(True)  # the copy is taken inside the generator step's `frozen`
        opt = self.optimizer(ahead)
        # A deep copy: loading shares the state tensors, which the copy's steps update in place.
        opt.load_state_dict(copy.deepcopy(self.opt_d.state_dict()))
        for _ in range(self.hparams.unroll_steps):
            with torch.no_grad():
                fake = self.generator(self.latent(len(real)), y)
            loss = self.objective.d_loss(ahead(real, y), ahead(fake, y))
            descend(opt, loss)
        return ahead
