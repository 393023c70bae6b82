"""The vanilla GAN (Goodfellow et al., 2014) with MLP players on flattened data, so the same model
runs on 2-D points and on images. Later GAN variants change the loss or the networks, not this
protocol: `train_step` does `d_steps` discriminator updates then one generator update."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from bench.data.base import DataInfo
from bench.models.base import MODELS, Batch, GenerativeModel, HParams
from bench.models.nets import (
    flatten,
    frozen,
    grad_norm,
    inference,
    mlp,
    output_head,
    standard_normal,
    unflatten,
)

GeneratorLoss = Callable[[torch.Tensor], torch.Tensor]


def non_saturating_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """-log D(G(z)): strong gradients early on, when D easily rejects the fakes."""
    return F.softplus(-fake_logits).mean()


def minimax_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """log(1 - D(G(z))): the original minimax objective, which saturates when D wins."""
    return -F.softplus(fake_logits).mean()


# Generator objectives as functions of D's logits on generated samples (lower is better for G).
# Plain module-level functions, so a model holding one still pickles.
GENERATOR_LOSSES: dict[str, GeneratorLoss] = {
    "non_saturating": non_saturating_loss,
    "minimax": minimax_loss,
}


class GanHParams(HParams):
    """Inherits `batch_size` (128) and `lr` (2e-4, used by both players) from HParams."""

    latent_dim: int = Field(16, ge=1, description="size of the generator's Gaussian latent")
    hidden: int = Field(128, ge=1, description="width of every hidden layer, both players")
    layers: int = Field(3, ge=1, description="hidden layers in the generator and discriminator")
    beta1: float = Field(0.5, ge=0.0, lt=1.0, description="Adam beta1, both players")
    beta2: float = Field(0.999, ge=0.0, lt=1.0, description="Adam beta2, both players")
    loss: Literal["non_saturating", "minimax"] = Field(
        "non_saturating", description="generator objective: -log D(G(z)) or log(1 - D(G(z)))"
    )
    d_steps: int = Field(1, ge=1, description="discriminator updates per generator update")


@MODELS.register("gan")
class Gan(GenerativeModel):
    description = "vanilla GAN, MLP generator and discriminator, non-saturating or minimax loss"
    family = "gan"
    HParams: ClassVar[type[GanHParams]] = GanHParams
    hparams: GanHParams

    def __init__(self, hparams: GanHParams, info: DataInfo) -> None:
        super().__init__(hparams, info)
        h = hparams
        self.generator = nn.Sequential(
            mlp(h.latent_dim, h.hidden, h.layers, info.dim), output_head(info)
        )
        leaky = partial(nn.LeakyReLU, 0.2)
        self.discriminator = mlp(info.dim, h.hidden, h.layers, 1, activation=leaky)
        betas = (h.beta1, h.beta2)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=h.lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=h.lr, betas=betas)
        self.generator_loss = GENERATOR_LOSSES[h.loss]

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        """Flat generated samples (B, info.dim) in the data's value range."""
        return self.generator(z)

    def critic(self, x_flat: torch.Tensor) -> torch.Tensor:
        """D's logits, shape (B,)."""
        return self.discriminator(x_flat).squeeze(-1)

    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return standard_normal(n, self.hparams.latent_dim, self.device, generator)

    def train_step(self, batch: Batch) -> dict[str, float]:
        real = flatten(batch.x.to(self.device))
        d_stats = [self._discriminator_step(real) for _ in range(self.hparams.d_steps)]
        # D's diagnostics are those of its last update, the D the generator then plays against.
        return {**d_stats[-1], **self._generator_step(len(real))}

    def _discriminator_step(self, real: torch.Tensor) -> dict[str, float]:
        with torch.no_grad():
            fake = self.generate(self.latent(len(real)))
        real_logits, fake_logits = self.critic(real), self.critic(fake)
        # -log D(x) - log(1 - D(G(z))), written with softplus for numerical stability.
        loss = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        return {
            "loss_d": loss.item(),
            "d_real": torch.sigmoid(real_logits).mean().item(),
            "d_fake": torch.sigmoid(fake_logits).mean().item(),
            "grad_norm_d": grad_norm(self.discriminator),
        }

    def _generator_step(self, n: int) -> dict[str, float]:
        with frozen(self.discriminator):
            loss = self.generator_loss(self.critic(self.generate(self.latent(n))))
            self.opt_g.zero_grad(set_to_none=True)
            loss.backward()
        self.opt_g.step()
        return {"loss_g": loss.item(), "grad_norm_g": grad_norm(self.generator)}

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        with inference(self):
            return unflatten(self.generate(self.latent(n, generator)), self.info)
