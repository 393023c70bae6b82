"""The variational autoencoder (Kingma & Welling, 2014) with MLP encoder and decoder on flattened
data. The likelihood follows the data: Bernoulli for bounded data, Gaussian with a learned
per-dimension variance for unbounded data, so the reported loss is always a true -ELBO."""

from __future__ import annotations

import math
from typing import ClassVar

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from bench.data.base import DataInfo
from bench.models.base import MODELS, Batch, GenerativeModel, HParams
from bench.models.nets import (
    RangeSquash,
    flatten,
    grad_norm,
    inference,
    mlp,
    standard_normal,
    unflatten,
)


class Likelihood(nn.Module):
    """p(x | z) given the decoder's raw output for flat data (B, info.dim)."""

    def nll(self, raw: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """-log p(x | z) per sample, shape (B,)."""
        raise NotImplementedError

    def mean(self, raw: torch.Tensor) -> torch.Tensor:
        """E[x | z] in data space."""
        raise NotImplementedError


class Bernoulli(Likelihood):
    """Independent Bernoulli pixels on the value range rescaled to [0, 1]; the raw output is the
    logit. Grey levels in between are used as soft targets, the usual continuous relaxation."""

    def __init__(self, low: float, high: float) -> None:
        super().__init__()
        self.squash = RangeSquash(low, high)

    def nll(self, raw: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        target = (x - self.squash.low) / (self.squash.high - self.squash.low)
        return F.binary_cross_entropy_with_logits(raw, target, reduction="none").sum(-1)

    def mean(self, raw: torch.Tensor) -> torch.Tensor:
        return self.squash(raw)


class Gaussian(Likelihood):
    """N(raw, diag(exp(log_var))) with one learned log-variance per data dimension. The
    log-variance is clamped: with a decoder that fits the data closely, an unbounded variance
    would shrink towards zero and drive the likelihood (and the gradients) to infinity."""

    LOG_VAR_RANGE = (-9.0, 5.0)  # std from about 0.011 to 12

    def __init__(self, dim: int, init_std: float) -> None:
        super().__init__()
        self.log_var = nn.Parameter(torch.full((dim,), 2.0 * math.log(init_std)))

    def nll(self, raw: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        log_var = self.log_var.clamp(*self.LOG_VAR_RANGE)
        per_dim = math.log(2 * math.pi) + log_var + (x - raw).pow(2) * torch.exp(-log_var)
        return 0.5 * per_dim.sum(-1)

    def mean(self, raw: torch.Tensor) -> torch.Tensor:
        return raw


def likelihood_for(info: DataInfo, init_std: float) -> Likelihood:
    if info.value_range is None:
        return Gaussian(info.dim, init_std)
    return Bernoulli(*info.value_range)


def kl_to_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) per sample, in closed form."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1)


class VaeHParams(HParams):
    """Inherits `batch_size` (128) from HParams."""

    latent_dim: int = Field(8, ge=1, description="size of the latent code")
    hidden: int = Field(256, ge=1, description="width of every hidden layer, encoder and decoder")
    layers: int = Field(2, ge=1, description="hidden layers in the encoder and in the decoder")
    lr: float = Field(1e-3, gt=0.0, description="Adam learning rate")
    decoder_std: float = Field(
        0.1,
        gt=0.0,
        description="initial std of the Gaussian decoder (unbounded data only; it is learned). "
        "Starting small makes the reconstruction term dominate early, which avoids the posterior "
        "collapse a unit variance causes on 2-D mixtures",
    )


@MODELS.register("vae")
class Vae(GenerativeModel):
    description = "variational autoencoder, MLP encoder/decoder, Bernoulli or Gaussian likelihood"
    family = "autoencoder"
    HParams: ClassVar[type[VaeHParams]] = VaeHParams
    hparams: VaeHParams

    def __init__(self, hparams: VaeHParams, info: DataInfo) -> None:
        super().__init__(hparams, info)
        h = hparams
        self.encoder = mlp(info.dim, h.hidden, h.layers, 2 * h.latent_dim)
        self.decoder = mlp(h.latent_dim, h.hidden, h.layers, info.dim)
        self.likelihood = likelihood_for(info, h.decoder_std)
        self.opt = torch.optim.Adam(self.parameters(), lr=h.lr)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior q(z | x) for x of shape (B, *info.shape) or (B, info.dim), as (mu, logvar),
        each (B, latent_dim). Differentiable: wrap in `torch.no_grad()` for the codes alone."""
        mu, logvar = self.encoder(flatten(x.to(self.device))).chunk(2, dim=-1)
        return mu, logvar

    def neg_elbo(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(reconstruction NLL, KL) per sample from one reparameterised draw z ~ q(z | x)."""
        x = flatten(x.to(self.device))
        mu, logvar = self.encode(x)
        eps = standard_normal(len(x), self.hparams.latent_dim, self.device, generator)
        z = mu + torch.exp(0.5 * logvar) * eps  # reparameterised, so gradients reach the encoder
        recon = self.likelihood.nll(self.decoder(z), x)
        return recon, kl_to_standard_normal(mu, logvar)

    def train_step(self, batch: Batch) -> dict[str, float]:
        recon, kl = self.neg_elbo(batch.x)
        loss = (recon + kl).mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {
            "loss": loss.item(),
            "recon": recon.mean().item(),
            "kl": kl.mean().item(),
            "grad_norm": grad_norm(self),
        }

    def decode_mean(self, z: torch.Tensor) -> torch.Tensor:
        """E[x | z] in data space, shape (B, *info.shape)."""
        return unflatten(self.likelihood.mean(self.decoder(z)), self.info)

    def elbo(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Single-draw ELBO estimate per sample (B,), in nats; no gradients."""
        with inference(self):
            recon, kl = self.neg_elbo(x, generator)
            return -(recon + kl)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Decoder mean at the posterior mean, shape (B, *info.shape); no gradients."""
        with inference(self):
            return self.decode_mean(self.encode(x)[0])

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        with inference(self):
            z = standard_normal(n, self.hparams.latent_dim, self.device, generator)
            return self.decode_mean(z)
