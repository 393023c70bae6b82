"""Progressive growing of GANs (Karras et al., 2018), sized for 28×28 images: both players start
at 7×7 and grow to 14×14 and then 28×28. Each new resolution fades in: its output is blended
with the upsampled output of the previous one, weight alpha ramping linearly from 0 to 1.

Schedule, in training steps (`phase_steps` P, `fade_steps` F):
    [0, P) 7×7 | fade in 14×14 for F | 14×14 for P | fade in 28×28 for F | 28×28 from then on.
The resolution and alpha are a pure function of a step counter kept as a registered buffer, so a
checkpoint (`training_state()`) restores them exactly.

Loss as in the paper: WGAN-GP (lambda 10) with the small drift penalty eps·D(x)² that keeps the
critic's output near zero; Adam with beta1 0. Pixel norm in the generator and a minibatch
standard-deviation feature in the critic, as in the paper; equalized learning rate is left out.
`d_real` / `d_fake` are therefore mean critic scores (unbounded), not probabilities."""

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
from bench.models.nets import descend, frozen, grad_norm, inference, output_head, standard_normal
from bench.models.stylegan import BASE, SIDE, PixelNorm, image_incompatibility

STAGES = 3  # 7, 14, 28 pixels
DRIFT = 1e-3  # weight of the drift penalty on real scores (the paper's epsilon)
GP_WEIGHT = 10.0  # WGAN-GP's lambda


def resolution(stage: int) -> int:
    return BASE * 2**stage


def schedule(step: int, phase_steps: int, fade_steps: int) -> tuple[int, float]:
    """(stage, alpha) after `step` completed training steps: stage 0/1/2 = 7/14/28 pixels, alpha
    the weight of the newest stage while it fades in (1.0 when stable)."""
    t = step - phase_steps
    if t < 0:
        return 0, 1.0
    for stage in range(1, STAGES):
        if t < fade_steps:
            return stage, t / fade_steps
        t -= fade_steps + phase_steps
        if t < 0 or stage == STAGES - 1:
            return stage, 1.0
    raise AssertionError("unreachable: the last stage is stable forever")


def conv(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.LeakyReLU(0.2)]


def widths(channels: int) -> list[int]:
    """Feature maps per stage: `channels` at 7×7, halved per doubling of the side."""
    return [max(channels // 2**stage, 1) for stage in range(STAGES)]


class Generator(nn.Module):
    def __init__(self, info: DataInfo, latent_dim: int, channels: int) -> None:
        super().__init__()
        c = widths(channels)
        self.input = nn.Sequential(
            PixelNorm(), nn.Linear(latent_dim, c[0] * BASE * BASE), nn.LeakyReLU(0.2)
        )
        self.blocks = nn.ModuleList([nn.Sequential(*conv(c[0], c[0]), PixelNorm())])
        for stage in range(1, STAGES):
            self.blocks.append(
                nn.Sequential(
                    nn.Upsample(scale_factor=2, mode="nearest"),
                    *conv(c[stage - 1], c[stage]),
                    PixelNorm(),
                    *conv(c[stage], c[stage]),
                    PixelNorm(),
                )
            )
        self.to_image = nn.ModuleList([nn.Conv2d(width, info.shape[0], 1) for width in c])
        self.head = output_head(info)

    def forward(self, z: torch.Tensor, stage: int, alpha: float) -> torch.Tensor:
        """Images at `resolution(stage)` in the data's value range."""
        h = self.input(z).reshape(len(z), -1, BASE, BASE)
        h = self.blocks[0](h)
        for k in range(1, stage):
            h = self.blocks[k](h)
        if stage == 0:
            return self.head(self.to_image[0](h))
        image = self.head(self.to_image[stage](self.blocks[stage](h)))
        if alpha >= 1.0:
            return image
        # Both images lie in the value range, so their convex blend does too.
        previous = F.interpolate(self.head(self.to_image[stage - 1](h)), scale_factor=2)
        return alpha * image + (1 - alpha) * previous


class MinibatchStd(nn.Module):
    """Appends the batch's mean feature standard deviation as one constant map, so the critic
    can see a lack of variety across the batch (the paper's remedy for mode collapse)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        std = x.std(dim=0, unbiased=False).mean() if len(x) > 1 else x.new_zeros(())
        return torch.cat([x, std.expand(len(x), 1, *x.shape[2:])], dim=1)


class Critic(nn.Module):
    def __init__(self, info: DataInfo, channels: int) -> None:
        super().__init__()
        c = widths(channels)
        self.from_image = nn.ModuleList(
            [nn.Sequential(nn.Conv2d(info.shape[0], width, 1), nn.LeakyReLU(0.2)) for width in c]
        )
        self.blocks = nn.ModuleList(
            [
                nn.Sequential(
                    MinibatchStd(),
                    *conv(c[0] + 1, c[0]),
                    nn.Flatten(),
                    nn.Linear(c[0] * BASE * BASE, 1),
                )
            ]
        )
        for stage in range(1, STAGES):
            self.blocks.append(
                nn.Sequential(
                    *conv(c[stage], c[stage]), *conv(c[stage], c[stage - 1]), nn.AvgPool2d(2)
                )
            )

    def forward(self, x: torch.Tensor, stage: int, alpha: float) -> torch.Tensor:
        """Critic scores (B,) of images at `resolution(stage)`."""
        h = self.blocks[stage](self.from_image[stage](x))
        if stage > 0 and alpha < 1.0:
            h = alpha * h + (1 - alpha) * self.from_image[stage - 1](F.avg_pool2d(x, 2))
        for k in range(stage - 1, -1, -1):
            h = self.blocks[k](h)
        return h.squeeze(-1)


def real_at(x: torch.Tensor, stage: int, alpha: float) -> torch.Tensor:
    """Real images brought to the current resolution, blended like the generator's output while a
    stage fades in, so the critic compares like with like."""
    x = F.avg_pool2d(x, SIDE // resolution(stage))
    if stage == 0 or alpha >= 1.0:
        return x
    coarse = F.interpolate(F.avg_pool2d(x, 2), scale_factor=2)
    return alpha * x + (1 - alpha) * coarse


class ProGanHParams(HParams):
    """Inherits `batch_size` (128) and `lr` from HParams; the paper's lr is 1e-3."""

    lr: float = Field(1e-3, gt=0.0, description="Adam learning rate, both players")
    latent_dim: int = Field(32, ge=1, description="size of the generator's Gaussian latent")
    channels: int = Field(
        64, ge=4, description="feature maps at 7×7 (halved per doubling), generator and critic"
    )
    phase_steps: int = Field(
        500, ge=1, description="steps of each stable phase (7×7, then 14×14; 28×28 lasts)"
    )
    fade_steps: int = Field(500, ge=0, description="steps of each fade-in (to 14×14, to 28×28)")
    beta1: float = Field(0.0, ge=0.0, lt=1.0, description="Adam beta1, both players")
    beta2: float = Field(0.99, ge=0.0, lt=1.0, description="Adam beta2, both players")


@MODELS.register("progan")
class ProGan(GenerativeModel):
    description = "progressive growing GAN, 7x7 -> 14x14 -> 28x28 with fade-in, WGAN-GP loss"
    family = "gan"
    HParams: ClassVar[type[ProGanHParams]] = ProGanHParams
    hparams: ProGanHParams
    discriminator_probabilities = False
    diagnostics = {
        **ADVERSARIAL_DIAGNOSTICS,
        "gp": Diagnostic("WGAN-GP gradient penalty at random interpolates (before its weight)"),
        "resolution": Diagnostic("side of the images the networks work at this step"),
        "alpha": Diagnostic("fade-in weight of the newest block (1: fully faded in)"),
    }

    def __init__(self, hparams: ProGanHParams, info: DataInfo) -> None:
        super().__init__(hparams, info)
        h = hparams
        self.generator = Generator(info, h.latent_dim, h.channels)
        self.critic = Critic(info, h.channels)
        # Steps trained so far: the schedule's clock, saved with the parameters.
        self.register_buffer("step", torch.zeros((), dtype=torch.long))
        betas = (h.beta1, h.beta2)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=h.lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.critic.parameters(), lr=h.lr, betas=betas)

    @classmethod
    def incompatibility(cls, info: DataInfo) -> str | None:
        return image_incompatibility(info, "progan")

    def stage(self) -> tuple[int, float]:
        """The current (stage, alpha), from the step counter."""
        return schedule(int(self.step), self.hparams.phase_steps, self.hparams.fade_steps)

    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return standard_normal(n, self.hparams.latent_dim, self.device, generator)

    def train_step(self, batch: Batch) -> dict[str, float]:
        stage, alpha = self.stage()
        real = real_at(batch.x.to(self.device), stage, alpha)
        logs = {
            **self._critic_step(real, stage, alpha),
            **self._generator_step(len(real), stage, alpha),
        }
        self.step += 1
        return {**logs, "resolution": float(resolution(stage)), "alpha": alpha}

    def _critic_step(self, real: torch.Tensor, stage: int, alpha: float) -> dict[str, float]:
        with torch.no_grad():
            fake = self.generator(self.latent(len(real)), stage, alpha)
        real_scores, fake_scores = self.critic(real, stage, alpha), self.critic(fake, stage, alpha)
        gp = self._gradient_penalty(real, fake, stage, alpha)
        loss = (
            fake_scores.mean()
            - real_scores.mean()
            + GP_WEIGHT * gp
            + DRIFT * real_scores.pow(2).mean()
        )
        descend(self.opt_d, loss)
        return {
            "loss_d": loss.item(),
            "d_real": real_scores.mean().item(),
            "d_fake": fake_scores.mean().item(),
            "grad_norm_d": grad_norm(self.critic),
            "gp": gp.item(),
        }

    def _gradient_penalty(
        self, real: torch.Tensor, fake: torch.Tensor, stage: int, alpha: float
    ) -> torch.Tensor:
        """(|grad D| - 1)² at random points between real and generated images (Gulrajani 2017)."""
        eps = torch.rand(len(real), 1, 1, 1, device=real.device)
        mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(
            self.critic(mixed, stage, alpha).sum(), mixed, create_graph=True
        )
        return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()

    def _generator_step(self, n: int, stage: int, alpha: float) -> dict[str, float]:
        with frozen(self.critic):
            loss = -self.critic(self.generator(self.latent(n), stage, alpha), stage, alpha).mean()
            descend(self.opt_g, loss)
        return {"loss_g": loss.item(), "grad_norm_g": grad_norm(self.generator)}

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Samples at the current resolution, upsampled (nearest) to the full 28×28."""
        with inference(self):
            return self.generate(self.latent(n, generator))

    def generate(self, z: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Images of latents z at the current resolution, upsampled (nearest) to 28×28 and
        differentiable in z (Generates)."""
        stage, alpha = self.stage()
        x = self.generator(z.to(self.device), stage, alpha)
        return F.interpolate(x, size=(SIDE, SIDE), mode="nearest")

    def discriminate(self, x: torch.Tensor) -> torch.Tensor:
        """Critic scores (B,) of 28×28 images brought to the current resolution, higher = more
        real (Discriminates); its minibatch-std feature makes a score depend on the batch."""
        stage, alpha = self.stage()
        with inference(self):
            return self.critic(real_at(x.to(self.device), stage, alpha), stage, alpha)
