"""The variational autoencoder (Kingma & Welling, 2014) and its family: `vae` (MLP encoder and
decoder), `beta_vae` (β weight on the KL term, Higgins et al. 2017; MLP or convolutional
networks) and `cvae` (conditioned on the class label, Sohn et al. 2015). The likelihood follows the
data: Bernoulli for bounded data, Gaussian with a learned per-dimension variance for unbounded
data, so recon + KL is always a true -ELBO (the training loss of a β-VAE is recon + β·KL)."""

from __future__ import annotations

import math
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from bench.data.base import DataInfo
from bench.errors import BenchError
from bench.models.base import MODELS, Batch, Diagnostic, GenerativeModel, HParams
from bench.models.coders import ENCODERS
from bench.models.levels import bernoulli_level_nll
from bench.models.nets import RangeSquash, descend, flatten, grad_norm, inference, standard_normal

IS_CHUNK = 4096  # (importance samples x images) decoded at once by `importance_nll`
DENSITY_K = 64  # importance samples of the likelihood bound `log_likelihood` reports


class Likelihood(nn.Module):
    """p(x | z) given the decoder's raw output for flat data (B, info.dim)."""

    def nll(self, raw: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """-log p(x | z) per sample, shape (B,)."""
        raise NotImplementedError

    def mean(self, raw: torch.Tensor) -> torch.Tensor:
        """E[x | z] in data space."""
        raise NotImplementedError

    def level_nll(self, raw: torch.Tensor, x: torch.Tensor, levels: int) -> torch.Tensor:
        """-log P(x | z) per sample (B,) as a distribution over the data's `levels` discrete
        values (bench.models.levels), for the likelihood metric on images."""
        raise BenchError(
            f"{type(self).__name__} decoder has no distribution over {levels} pixel levels",
            where="vae likelihood",
            fix="measure likelihood on images with a bounded value range (Bernoulli decoder)",
        )


class Bernoulli(Likelihood):
    """Independent Bernoulli pixels on the value range rescaled to [0, 1]; the raw output is the
    logit. Grey levels in between are used as soft targets, the usual continuous relaxation."""

    def __init__(self, low: float, high: float) -> None:
        super().__init__()
        self.squash = RangeSquash(low, high)

    def nll(self, raw: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        target = (x - self.squash.low) / (self.squash.high - self.squash.low)
        return F.binary_cross_entropy_with_logits(raw, target, reduction="none").sum(-1)

    def level_nll(self, raw: torch.Tensor, x: torch.Tensor, levels: int) -> torch.Tensor:
        target = (x - self.squash.low) / (self.squash.high - self.squash.low)
        return bernoulli_level_nll(raw, target, levels)

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
    conditional: ClassVar[bool] = False  # encode/decode/elbo need the labels y
    HParams: ClassVar[type[VaeHParams]] = VaeHParams
    hparams: VaeHParams
    diagnostics = {
        "loss": Diagnostic("the negative ELBO of the batch (KL weighted by β), per image", "loss"),
        "recon": Diagnostic("expected negative log-likelihood of the batch, per image"),
        "kl": Diagnostic("KL(q(z|x) || N(0, I)) of the batch, per image, nats"),
        "grad_norm": Diagnostic("L2 norm of the gradient of every parameter", "grad_norm"),
    }

    def __init__(self, hparams: VaeHParams, info: DataInfo) -> None:
        super().__init__(hparams, info)
        h = hparams
        self.encoder, self.decoder = self.networks()
        self.likelihood = likelihood_for(info, h.decoder_std)
        self.opt = torch.optim.Adam(self.parameters(), lr=h.lr)

    @property
    def kl_weight(self) -> float:
        """β, the weight of the KL term in the training loss (1: the ELBO itself)."""
        return 1.0

    @property
    def cond_dim(self) -> int:
        """Width of the condition vector joined to encoder and decoder inputs (0: none)."""
        return 0

    def networks(self) -> tuple[nn.Module, nn.Module]:
        h, coder = self.hparams, ENCODERS["mlp"]
        widths = [h.hidden] * h.layers
        return (
            coder.encoder(self.info, widths, 2 * h.latent_dim, self.cond_dim),
            coder.decoder(self.info, widths, h.latent_dim, self.cond_dim),
        )

    def condition(self, y: torch.Tensor | None, n: int) -> torch.Tensor | None:
        """The condition vector for labels y (None for an unconditional model)."""
        return None

    def encode(
        self, x: torch.Tensor, y: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior q(z | x) for x of shape (B, *info.shape) or (B, info.dim), as (mu, logvar),
        each (B, latent_dim). Differentiable: wrap in `torch.no_grad()` for the codes alone."""
        x = x.to(self.device).reshape(len(x), *self.info.shape)
        mu, logvar = self.encoder(x, self.condition(y, len(x))).chunk(2, dim=-1)
        return mu, logvar

    def codes(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The posterior mean of q(z | x), (B, latent_dim), without gradients (Encodes)."""
        with inference(self):
            return self.encode(x, y)[0]

    def decoder_raw(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The decoder's raw output, flat (B, info.dim): what the likelihood reads."""
        return flatten(self.decoder(z, self.condition(y, len(z))))

    def neg_elbo(
        self,
        x: torch.Tensor,
        generator: torch.Generator | None = None,
        y: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(reconstruction NLL, KL) per sample from one reparameterised draw z ~ q(z | x)."""
        x = flatten(x.to(self.device))
        mu, logvar = self.encode(x, y)
        eps = standard_normal(len(x), self.hparams.latent_dim, self.device, generator)
        z = mu + torch.exp(0.5 * logvar) * eps  # reparameterised, so gradients reach the encoder
        recon = self.likelihood.nll(self.decoder_raw(z, y), x)
        return recon, kl_to_standard_normal(mu, logvar)

    def train_step(self, batch: Batch) -> dict[str, float]:
        recon, kl = self.neg_elbo(batch.x, y=batch.y)
        loss = (recon + self.kl_weight * kl).mean()
        descend(self.opt, loss)
        return {
            "loss": loss.item(),
            "recon": recon.mean().item(),
            "kl": kl.mean().item(),
            "grad_norm": grad_norm(self),
        }

    def decode_mean(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """E[x | z] in data space, shape (B, *info.shape)."""
        return self.likelihood.mean(self.decoder_raw(z, y)).reshape(len(z), *self.info.shape)

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """E[x | z] in data space, as every autoencoder's `decode`; no gradients."""
        with inference(self):
            return self.decode_mean(z, y)

    def elbo(
        self,
        x: torch.Tensor,
        generator: torch.Generator | None = None,
        y: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Single-draw ELBO estimate per sample (B,), in nats; no gradients."""
        with inference(self):
            recon, kl = self.neg_elbo(x, generator, y)
            return -(recon + kl)

    def importance_nll(
        self,
        x: torch.Tensor,
        k: int = 64,
        generator: torch.Generator | None = None,
        y: torch.Tensor | None = None,
        levels: int | None = None,
    ) -> torch.Tensor:
        """-log p(x) per sample (B,), in nats, by importance sampling with q(z | x) as proposal
        (Burda et al. 2016): -log mean_k p(x | z_k) p(z_k) / q(z_k | x). An upper bound on the
        true NLL in expectation, tighter than -ELBO, and equal to it at k = 1. With `levels`,
        p(x | z) is the decoder normalised over that many pixel levels, so the bound is on the
        discrete -log P(x) of the pixels. No gradients."""
        x = flatten(x.to(self.device))
        rows = max(1, IS_CHUNK // k)
        parts = []
        with inference(self):
            for start in range(0, len(x), rows):
                xs = x[start : start + rows]
                ys = None if y is None else y[start : start + rows]
                parts.append(self._importance_nll(xs, k, generator, ys, levels))
        return torch.cat(parts)

    def _importance_nll(
        self,
        x: torch.Tensor,
        k: int,
        generator: torch.Generator | None,
        y: torch.Tensor | None,
        levels: int | None,
    ) -> torch.Tensor:
        b, latent = len(x), self.hparams.latent_dim
        mu, logvar = self.encode(x, y)
        eps = standard_normal(k * b, latent, self.device, generator).reshape(k, b, latent)
        z = mu + torch.exp(0.5 * logvar) * eps  # (k, b, latent)
        y_rep = None if y is None else y.repeat(k)
        raw = self.decoder_raw(z.reshape(k * b, latent), y_rep)
        xs = x.repeat(k, 1)
        nll = (
            self.likelihood.nll(raw, xs)
            if levels is None
            else self.likelihood.level_nll(raw, xs, levels)
        )
        log_px_z = -nll.reshape(k, b)
        log_pz = -0.5 * (z.pow(2) + math.log(2 * math.pi)).sum(-1)
        log_qz = -0.5 * (eps.pow(2) + logvar + math.log(2 * math.pi)).sum(-1)
        log_w = log_px_z + log_pz - log_qz
        return -(torch.logsumexp(log_w, dim=0) - math.log(k))

    def log_likelihood(
        self, x: torch.Tensor, levels: int | None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Density: the importance-weighted lower bound on log p(x), k = DENSITY_K; on images
        (levels set) with the decoder normalised over the levels, a bound on log P(pixels)."""
        return -self.importance_nll(x, DENSITY_K, generator, levels=levels)

    def likelihood_kind(self) -> str:
        if self.info.value_range is None:
            return f"bound: importance-weighted, k={DENSITY_K}"
        return (
            f"bound: importance-weighted, k={DENSITY_K}; decoder normalised over the pixel levels "
            "(categorical ∝ Bernoulli density at k/(L-1)); trained with the unnormalised one"
        )

    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Decoder mean at the posterior mean, shape (B, *info.shape); no gradients."""
        with inference(self):
            return self.decode_mean(self.encode(x, y)[0], y)

    def sample_codes(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """(n, latent_dim) draws from the prior N(0, I)."""
        return standard_normal(n, self.hparams.latent_dim, self.device, generator)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        with inference(self):
            return self.decode_mean(self.sample_codes(n, generator))


class BetaVaeHParams(VaeHParams):
    beta: float = Field(
        4.0, ge=0.0, description="β: weight of the KL term in the loss (1 gives the plain VAE)"
    )
    encoder: Literal["mlp", "conv"] = Field(
        "mlp",
        description="network family of encoder and decoder: mlp (any data; hidden, layers) or "
        "conv (images; conv_width)",
    )
    conv_width: int = Field(16, ge=1, description="channels of the first conv layer (conv only)")


@MODELS.register("beta_vae")
class BetaVae(Vae):
    description = "β-VAE: KL term weighted by β (β=1 is the VAE), MLP or convolutional networks"
    HParams: ClassVar[type[BetaVaeHParams]] = BetaVaeHParams
    hparams: BetaVaeHParams

    def __init__(self, hparams: BetaVaeHParams, info: DataInfo) -> None:
        reason = ENCODERS[hparams.encoder].incompatibility(info)
        if reason is not None:
            raise BenchError(
                f"{type(self).__name__} with encoder '{hparams.encoder}' cannot handle this "
                f"dataset: {reason}",
                fix="use encoder: mlp for this dataset",
            )
        super().__init__(hparams, info)

    @property
    def kl_weight(self) -> float:
        return self.hparams.beta

    def networks(self) -> tuple[nn.Module, nn.Module]:
        h = self.hparams
        if h.encoder == "mlp":
            return super().networks()
        coder = ENCODERS[h.encoder]
        return (
            coder.encoder(self.info, h.conv_width, 2 * h.latent_dim, self.cond_dim),
            coder.decoder(self.info, h.conv_width, h.latent_dim, self.cond_dim),
        )


class CvaeHParams(BetaVaeHParams):
    beta: float = Field(
        1.0, ge=0.0, description="β: weight of the KL term in the loss (1: the conditional ELBO)"
    )


@MODELS.register("cvae")
class Cvae(BetaVae):
    """Encoder and decoder both see the one-hot label: q(z | x, y), p(x | z, y), prior N(0, I).
    Samples cycle through the classes (sample i has label i mod C), so every class is equally
    represented; `decode` without labels uses class 0 (e.g. for latent traversals)."""

    description = "conditional VAE: encoder and decoder conditioned on the class label"
    conditional = True
    HParams: ClassVar[type[CvaeHParams]] = CvaeHParams
    hparams: CvaeHParams

    @classmethod
    def incompatibility(cls, info: DataInfo) -> str | None:
        if info.num_classes is None:
            return "it conditions on class labels, and this dataset has none"
        return None

    @property
    def cond_dim(self) -> int:
        return int(self.info.num_classes or 0)

    def condition(self, y: torch.Tensor | None, n: int) -> torch.Tensor:
        if y is None:
            raise ValueError("cvae needs the class labels y of its inputs")
        return F.one_hot(y.to(self.device).long(), self.cond_dim).float()

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if y is None:
            y = torch.zeros(len(z), dtype=torch.long, device=z.device)
        return super().decode(z, y)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        labels = torch.arange(n, device=self.device) % self.cond_dim
        with inference(self):
            return self.decode_mean(self.sample_codes(n, generator), labels)
