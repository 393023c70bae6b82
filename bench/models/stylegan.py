"""A small StyleGAN (Karras et al., 2019) sized for 28×28 images: a mapping MLP z -> w, a
synthesis network that starts from a learned 7×7 constant and upsamples 7 -> 14 -> 28, with the
style w injected into every layer by AdaIN and per-layer Gaussian noise scaled by learned
per-channel weights. Non-saturating loss with an R1 penalty on real data, as in the paper.

Left out to stay small (and quick on a CPU): equalized learning rate (a learning-rate
multiplier on the mapping network stands in for its slow-mapping effect), style mixing,
truncation, progressive growing and blurred upsampling."""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from bench.data.base import DataInfo
from bench.models.base import (
    ADVERSARIAL_DIAGNOSTICS,
    MODELS,
    Batch,
    Diagnostic,
    GenerativeModel,
    HParams,
)
from bench.models.nets import (
    descend,
    frozen,
    grad_norm,
    inference,
    mlp,
    output_head,
    standard_normal,
)

SIDE = 28  # the synthesis network grows a 7×7 constant twice by 2
BASE = 7


def image_incompatibility(info: DataInfo, model: str) -> str | None:
    """Why a generator built for C×28×28 images cannot model `info`'s data, or None."""
    if info.kind != "image" or len(info.shape) != 3:
        return (
            f"{model} generates C×{SIDE}×{SIDE} images; this dataset holds {info.kind} {info.shape}"
        )
    if info.shape[1:] != (SIDE, SIDE):
        side = "×".join(str(s) for s in info.shape[1:])
        return f"{model} is sized for {SIDE}×{SIDE} images (7 -> 14 -> 28), not {side}"
    return None


def gaussian(
    shape: tuple[int, ...], device: torch.device, generator: torch.Generator | None
) -> torch.Tensor:
    """N(0, 1) draws of `shape` on `device`; with a generator, drawn from it alone."""
    if generator is None:
        return torch.randn(shape, device=device)
    return torch.randn(shape, device=generator.device, generator=generator).to(device)


class PixelNorm(nn.Module):
    """Scales each vector to unit mean square along dim 1 (latents, feature maps)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


class AdaIN(nn.Module):
    """Adaptive instance norm: normalise each feature map, then scale and shift it by a style
    computed from w, so w sets the per-layer statistics ("style") of the image."""

    def __init__(self, channels: int, w_dim: int) -> None:
        super().__init__()
        self.style = nn.Linear(w_dim, 2 * channels)
        nn.init.zeros_(self.style.bias)  # start at scale 1 (see forward), shift 0

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        scale, shift = self.style(w)[:, :, None, None].chunk(2, dim=1)
        return F.instance_norm(x) * (1 + scale) + shift


class StyledConv(nn.Module):
    """[upsample ×2] -> 3×3 conv -> + learned-scale noise -> LeakyReLU -> AdaIN(w)."""

    def __init__(self, c_in: int, c_out: int, w_dim: int, upsample: bool) -> None:
        super().__init__()
        self.upsample = upsample
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1)
        # Zero at first: the network decides per channel how much stochastic detail to add.
        self.noise_scale = nn.Parameter(torch.zeros(1, c_out, 1, 1))
        self.adain = AdaIN(c_out, w_dim)

    def forward(
        self, x: torch.Tensor, w: torch.Tensor, generator: torch.Generator | None
    ) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = self.conv(x)
        noise = gaussian((len(x), 1, *x.shape[2:]), x.device, generator)
        return self.adain(F.leaky_relu(x + self.noise_scale * noise, 0.2), w)


class Synthesis(nn.Module):
    """Learned 7×7 constant -> styled convs at 7, 14 and 28 pixels -> 1×1 conv to image channels
    -> the data's value range."""

    def __init__(self, info: DataInfo, channels: int, w_dim: int) -> None:
        super().__init__()
        c7, c14, c28 = channels, max(channels // 2, 1), max(channels // 4, 1)
        self.const = nn.Parameter(torch.randn(1, c7, BASE, BASE))
        self.layers = nn.ModuleList(
            [
                StyledConv(c7, c7, w_dim, upsample=False),
                StyledConv(c7, c14, w_dim, upsample=True),
                StyledConv(c14, c14, w_dim, upsample=False),
                StyledConv(c14, c28, w_dim, upsample=True),
                StyledConv(c28, c28, w_dim, upsample=False),
            ]
        )
        self.to_image = nn.Conv2d(c28, info.shape[0], 1)
        self.head = output_head(info)

    def forward(self, w: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        x = self.const.expand(len(w), -1, -1, -1)
        for layer in self.layers:
            x = layer(x, w, generator)
        return self.head(self.to_image(x))


def conv_discriminator(channels_in: int, channels: int) -> nn.Sequential:
    """28 -> 14 -> 7 strided convs with LeakyReLU, then a linear logit (B, 1)."""
    c28, c14, c7 = max(channels // 4, 1), max(channels // 2, 1), channels
    leaky = nn.LeakyReLU(0.2)
    return nn.Sequential(
        nn.Conv2d(channels_in, c28, 3, padding=1),
        leaky,
        nn.Conv2d(c28, c14, 4, stride=2, padding=1),
        leaky,
        nn.Conv2d(c14, c7, 4, stride=2, padding=1),
        leaky,
        nn.Flatten(),
        nn.Linear(c7 * BASE * BASE, 1),
    )


class StyleGanHParams(HParams):
    """Inherits `batch_size` (128) and `lr` (2e-4, both players) from HParams."""

    latent_dim: int = Field(32, ge=1, description="size of the Gaussian latent z")
    w_dim: int = Field(64, ge=1, description="size of the style vector w (mapping output)")
    mapping_layers: int = Field(3, ge=1, description="hidden layers of the mapping MLP z -> w")
    mapping_lr_mult: float = Field(
        0.1, gt=0.0, le=1.0, description="learning-rate multiplier of the mapping network"
    )
    channels: int = Field(
        64, ge=4, description="feature maps at 7×7 (halved at 14×14, quartered at 28×28), G and D"
    )
    r1_gamma: float = Field(1.0, ge=0.0, description="R1 penalty weight on real data (0: none)")
    beta1: float = Field(0.0, ge=0.0, lt=1.0, description="Adam beta1, both players")
    beta2: float = Field(0.99, ge=0.0, lt=1.0, description="Adam beta2, both players")


@MODELS.register("stylegan")
class StyleGan(GenerativeModel):
    description = (
        "small StyleGAN for 28x28 images: mapping net, AdaIN styles, per-layer noise, "
        "learned constant, R1"
    )
    family = "gan"
    HParams: ClassVar[type[StyleGanHParams]] = StyleGanHParams
    hparams: StyleGanHParams
    discriminator_probabilities = True
    diagnostics = {
        **ADVERSARIAL_DIAGNOSTICS,
        "r1": Diagnostic("R1 penalty: mean ‖∇D(x)‖² on real images (before its weight)"),
    }

    def __init__(self, hparams: StyleGanHParams, info: DataInfo) -> None:
        super().__init__(hparams, info)
        h = hparams
        self.mapping = nn.Sequential(
            PixelNorm(),
            mlp(h.latent_dim, h.w_dim, h.mapping_layers, h.w_dim, activation=nn.LeakyReLU),
        )
        self.synthesis = Synthesis(info, h.channels, h.w_dim)
        self.discriminator = conv_discriminator(info.shape[0], h.channels)
        betas = (h.beta1, h.beta2)
        self.opt_g = torch.optim.Adam(
            [
                {"params": self.mapping.parameters(), "lr": h.lr * h.mapping_lr_mult},
                {"params": self.synthesis.parameters()},
            ],
            lr=h.lr,
            betas=betas,
        )
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=h.lr, betas=betas)

    @classmethod
    def incompatibility(cls, info: DataInfo) -> str | None:
        return image_incompatibility(info, "stylegan")

    def generate(self, z: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Images (B, *info.shape) in the data's value range; noise maps drawn from `generator`."""
        return self.synthesis(self.mapping(z), generator)

    def critic(self, x: torch.Tensor) -> torch.Tensor:
        return self.discriminator(x).squeeze(-1)

    def discriminate(self, x: torch.Tensor) -> torch.Tensor:
        """D's logit per image (B,), higher = more real (Discriminates)."""
        with inference(self):
            return self.critic(x.to(self.device))

    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return standard_normal(n, self.hparams.latent_dim, self.device, generator)

    def train_step(self, batch: Batch) -> dict[str, float]:
        real = batch.x.to(self.device)
        return {**self._discriminator_step(real), **self._generator_step(len(real))}

    def _discriminator_step(self, real: torch.Tensor) -> dict[str, float]:
        with torch.no_grad():
            fake = self.generate(self.latent(len(real)))
        penalise = self.hparams.r1_gamma > 0
        real = real.detach().requires_grad_(penalise)
        real_logits, fake_logits = self.critic(real), self.critic(fake)
        loss = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
        r1 = torch.zeros((), device=real.device)
        if penalise:
            # R1 (Mescheder et al. 2018): gradient penalty on real data only, keeps D smooth
            # where the data is.
            (grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
            r1 = grad.pow(2).flatten(1).sum(1).mean()
            loss = loss + 0.5 * self.hparams.r1_gamma * r1
        descend(self.opt_d, loss)
        return {
            "loss_d": loss.item(),
            "d_real": torch.sigmoid(real_logits).mean().item(),
            "d_fake": torch.sigmoid(fake_logits).mean().item(),
            "grad_norm_d": grad_norm(self.discriminator),
            "r1": r1.item(),
        }

    def _generator_step(self, n: int) -> dict[str, float]:
        with frozen(self.discriminator):
            loss = F.softplus(-self.critic(self.generate(self.latent(n)))).mean()
            descend(self.opt_g, loss)
        grads = grad_norm(nn.ModuleList([self.mapping, self.synthesis]))
        return {"loss_g": loss.item(), "grad_norm_g": grads}

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        with inference(self):
            return self.generate(self.latent(n, generator), generator)
