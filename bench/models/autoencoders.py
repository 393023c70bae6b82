"""Deterministic autoencoders, benchmarked like generative models: none has a prior, so each
samples by decoding draws from a density fitted on its training codes (ex-post density
estimation, Ghosh et al. 2020; see bench/models/density.py). The `sampler` hyperparameter names
the density, so it shows in the trial config and in the leaderboard's variant label.

Variants here: `ae` and its presets `ae_undercomplete` / `ae_overcomplete`, `stacked_ae`,
`denoising_ae` and `conv_ae`; `pca` (the optimum a linear autoencoder reaches) is in pca.py and
`sparse_ae_l1` / `sparse_ae_kl` in sparse.py, built on the bases defined here. The
reconstruction term of every loss is summed over data dimensions and averaged over the batch
(per image), so penalty weights mean the same on any batch size."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from bench.data.base import DataInfo, DataSplits
from bench.errors import BenchError
from bench.models.base import (
    MODELS,
    RECONSTRUCTION_DIAGNOSTICS,
    Batch,
    GenerativeModel,
    HParams,
)
from bench.models.coders import (
    ConvDecoder,
    ConvEncoder,
    MlpDecoder,
    MlpEncoder,
    conv_incompatibility,
)
from bench.models.density import CodeDensity
from bench.models.nets import descend, flatten, grad_norm, inference, output_head

CODE_FIT_MAX = 5000  # training points whose codes the sampler is fitted on (a fixed subset)
CODE_FIT_SEED = 4321  # which training points those are: the same for every model and fit
ENCODE_BATCH = 1000


class SamplerHParams(HParams):
    """Hyperparameters of every prior-less autoencoder (plus `batch_size` from HParams)."""

    lr: float = Field(1e-3, gt=0.0, description="Adam learning rate")
    sampler: Literal["gaussian", "gmm"] = Field(
        "gaussian",
        description="density fitted on the training codes to sample from: gaussian (one "
        "full-covariance Gaussian) or gmm (a Gaussian mixture of gmm_components)",
    )
    gmm_components: int = Field(
        10, ge=1, le=100, description="components of the gmm sampler (ignored by gaussian)"
    )


class ExPostAutoencoder(GenerativeModel):
    """An encoder/decoder pair without a prior: `fit_sampler` fits `self.density` on the codes
    of a fixed subset of the training split, `sample` decodes draws from it. Subclasses set
    `self.latent_dim` and `self.density` and define `encode` and `decode`."""

    family = "autoencoder"
    HParams: ClassVar[type[SamplerHParams]] = SamplerHParams
    hparams: SamplerHParams
    diagnostics = RECONSTRUCTION_DIAGNOSTICS
    latent_dim: int
    density: CodeDensity

    def make_density(self) -> CodeDensity:
        h = self.hparams
        return CodeDensity(h.sampler, self.latent_dim, h.gmm_components)

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Codes (B, latent_dim) of x (B, *info.shape); differentiable. `y` is ignored (the
        VAE-family signature, so metrics call every autoencoder alike)."""
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Data-space outputs (B, *info.shape) of codes (B, latent_dim)."""
        raise NotImplementedError

    def project(self, z: torch.Tensor) -> torch.Tensor:
        """Moves sampled codes onto the set the encoder can produce (e.g. non-negative codes)."""
        return z

    def fit_sampler(self, splits: DataSplits) -> None:
        gen = torch.Generator().manual_seed(CODE_FIT_SEED)
        subset = torch.randperm(len(splits.train), generator=gen)[:CODE_FIT_MAX]
        with inference(self):
            codes = torch.cat(
                [self.encode(chunk) for chunk in torch.split(splits.train[subset], ENCODE_BATCH)]
            )
        self.density.fit(codes)

    def sample_codes(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """(n, latent_dim) codes drawn from the fitted density."""
        with inference(self):
            return self.project(self.density.sample(n, generator))

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        with inference(self):
            return self.decode(self.sample_codes(n, generator))

    def codes(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """encode(x) without gradients: the code the evaluator's probes read (Encodes)."""
        with inference(self):
            return self.encode(x.to(self.device), y)

    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """decode(encode(x)), shape (B, *info.shape); no gradients."""
        with inference(self):
            return self.decode(self.encode(x.to(self.device)))


# ---------------------------------------------------------------- neural autoencoders


class AutoencoderHParams(SamplerHParams):
    loss: Literal["mse", "bce"] = Field(
        "mse",
        description="reconstruction loss: mse (squared error), or bce (binary cross-entropy on "
        "the value range rescaled to [0, 1]; bounded data only)",
    )


class Autoencoder(ExPostAutoencoder):
    """Encoder -> code -> decoder -> output head, trained on a reconstruction loss plus an
    optional penalty on the code. Subclasses choose the networks (`networks`), the code's
    activation (`code_activation`), an input corruption (`corrupt`) and a penalty (`penalty`)."""

    HParams: ClassVar[type[AutoencoderHParams]] = AutoencoderHParams
    hparams: AutoencoderHParams

    def __init__(self, hparams: AutoencoderHParams, info: DataInfo) -> None:
        super().__init__(hparams, info)
        if hparams.loss == "bce" and info.value_range is None:
            raise BenchError(
                f"{type(self).__name__}: loss 'bce' needs bounded data, and this dataset's "
                "values are unbounded",
                fix="use loss: mse on unbounded data such as 2-D points",
            )
        self.latent_dim = self.code_size(hparams, info)
        self.encoder, self.decoder = self.networks()
        self.code_activation = self.make_code_activation()
        self.head = output_head(info)
        self.density = self.make_density()
        self.opt = torch.optim.Adam(self.parameters(), lr=hparams.lr)

    @classmethod
    def code_size(cls, hparams: AutoencoderHParams, info: DataInfo) -> int:
        return hparams.latent_dim  # type: ignore[attr-defined]

    def networks(self) -> tuple[nn.Module, nn.Module]:
        raise NotImplementedError

    def make_code_activation(self) -> nn.Module:
        return nn.Identity()

    def corrupt(self, x: torch.Tensor) -> torch.Tensor:
        """The encoder's training input; the target stays `x`."""
        return x

    def penalty(self, code: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """A regulariser on the batch's codes, and what to log about it."""
        return code.new_zeros(()), {}

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.code_activation(self.encoder(x.to(self.device)))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.head(self.decoder(z))

    def recon_loss(self, raw: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Per-sample reconstruction loss (B,) of the decoder's raw output against x."""
        if self.hparams.loss == "bce":
            low, high = self.info.value_range  # type: ignore[misc]  (checked in __init__)
            target = (x - low) / (high - low)
            per_dim = F.binary_cross_entropy_with_logits(raw, target, reduction="none")
        else:
            per_dim = (self.head(raw) - x).pow(2)
        return flatten(per_dim).sum(-1)

    def train_step(self, batch: Batch) -> dict[str, float]:
        x = batch.x.to(self.device)
        code = self.encode(self.corrupt(x))
        recon = self.recon_loss(self.decoder(code), x).mean()
        penalty, logs = self.penalty(code)
        loss = recon + penalty
        descend(self.opt, loss)
        return {"loss": loss.item(), "recon": recon.item(), **logs, "grad_norm": grad_norm(self)}


class MlpAeHParams(AutoencoderHParams):
    hidden: int = Field(256, ge=1, description="width of every hidden layer, encoder and decoder")
    layers: int = Field(2, ge=1, description="hidden layers in the encoder and in the decoder")


class AeHParams(MlpAeHParams):
    latent_dim: int = Field(16, ge=1, description="size of the code")


@MODELS.register("ae")
class Ae(Autoencoder):
    description = "plain autoencoder, MLP encoder/decoder, samples from a density on its codes"
    HParams: ClassVar[type[MlpAeHParams]] = AeHParams
    hparams: MlpAeHParams

    def networks(self) -> tuple[nn.Module, nn.Module]:
        widths = [self.hparams.hidden] * self.hparams.layers
        return (
            MlpEncoder(self.info, widths, self.latent_dim),
            MlpDecoder(self.info, widths, self.latent_dim),
        )


class UndercompleteHParams(MlpAeHParams):
    latent_ratio: float = Field(
        0.125, gt=0.0, lt=1.0, description="code size as a share of the data dimension (< 1)"
    )


class OvercompleteHParams(MlpAeHParams):
    latent_ratio: float = Field(
        2.0, gt=1.0, description="code size as a multiple of the data dimension (> 1)"
    )


@MODELS.register("ae_undercomplete")
class AeUndercomplete(Ae):
    """latent_dim = round(latent_ratio * data dim), kept within 1..dim-1: 8 on 8×8 digits, 98
    on 28×28 MNIST, 1 on 2-D points."""

    description = "plain AE preset: code smaller than the input (latent_ratio 0.125 of data dim)"
    HParams: ClassVar[type[UndercompleteHParams]] = UndercompleteHParams

    @classmethod
    def code_size(cls, hparams: UndercompleteHParams, info: DataInfo) -> int:  # type: ignore[override]
        return max(1, min(info.dim - 1, round(hparams.latent_ratio * info.dim)))


@MODELS.register("ae_overcomplete")
class AeOvercomplete(Ae):
    """latent_dim = round(latent_ratio * data dim), at least dim+1: 128 on 8×8 digits, 1568 on
    28×28 MNIST. The hidden layers keep their own width, so on MNIST the code is overcomplete
    while the 256-wide hidden layers still narrow the path."""

    description = "plain AE preset: code larger than the input (latent_ratio 2 x data dim)"
    HParams: ClassVar[type[OvercompleteHParams]] = OvercompleteHParams

    @classmethod
    def code_size(cls, hparams: OvercompleteHParams, info: DataInfo) -> int:  # type: ignore[override]
        return max(info.dim + 1, round(hparams.latent_ratio * info.dim))


class StackedHParams(AutoencoderHParams):
    latent_dim: int = Field(16, ge=1, description="size of the code")
    widths: list[Annotated[int, Field(ge=1)]] = Field(
        [512, 256, 128],
        min_length=1,
        description="hidden widths from the input to the code; the decoder mirrors them",
    )


@MODELS.register("stacked_ae")
class StackedAe(Autoencoder):
    description = "stacked AE: hidden layers widening then narrowing to the code, mirrored back"
    HParams: ClassVar[type[StackedHParams]] = StackedHParams
    hparams: StackedHParams

    def networks(self) -> tuple[nn.Module, nn.Module]:
        widths = self.hparams.widths
        return (
            MlpEncoder(self.info, widths, self.latent_dim),
            MlpDecoder(self.info, widths, self.latent_dim),
        )


class DenoisingHParams(AeHParams):
    noise: Literal["gaussian", "masking"] = Field(
        "gaussian",
        description="corruption of the input: gaussian (additive, then clipped to the value "
        "range) or masking (a random share of entries set to the range's low end, or 0)",
    )
    noise_std: float = Field(0.3, gt=0.0, description="std of the gaussian noise, in data units")
    mask_prob: float = Field(
        0.3, gt=0.0, lt=1.0, description="share of entries the masking noise sets to zero"
    )


def gaussian_noise(x: torch.Tensor, h: DenoisingHParams, info: DataInfo) -> torch.Tensor:
    noisy = x + h.noise_std * torch.randn_like(x)
    return noisy if info.value_range is None else noisy.clamp(*info.value_range)


def masking_noise(x: torch.Tensor, h: DenoisingHParams, info: DataInfo) -> torch.Tensor:
    low = 0.0 if info.value_range is None else info.value_range[0]
    mask = torch.rand_like(x) < h.mask_prob
    return x.masked_fill(mask, low)


NOISES: dict[str, Callable[[torch.Tensor, DenoisingHParams, DataInfo], torch.Tensor]] = {
    "gaussian": gaussian_noise,
    "masking": masking_noise,
}


@MODELS.register("denoising_ae")
class DenoisingAe(Ae):
    """Trained to recover the clean x from a corrupted copy (Vincent et al. 2008); the noise
    draws come from the training random stream."""

    description = "denoising AE: corrupted input (gaussian or masking noise), clean target"
    HParams: ClassVar[type[DenoisingHParams]] = DenoisingHParams
    hparams: DenoisingHParams

    def corrupt(self, x: torch.Tensor) -> torch.Tensor:
        return NOISES[self.hparams.noise](x, self.hparams, self.info)


class ConvAeHParams(AutoencoderHParams):
    latent_dim: int = Field(16, ge=1, description="size of the code")
    width: int = Field(16, ge=1, description="channels of the first conv layer (doubling down)")


@MODELS.register("conv_ae")
class ConvAe(Autoencoder):
    description = "convolutional AE for images (strided conv encoder, transposed-conv decoder)"
    HParams: ClassVar[type[ConvAeHParams]] = ConvAeHParams
    hparams: ConvAeHParams

    @classmethod
    def incompatibility(cls, info: DataInfo) -> str | None:
        return conv_incompatibility(info)

    def networks(self) -> tuple[nn.Module, nn.Module]:
        w = self.hparams.width
        return ConvEncoder(self.info, w, self.latent_dim), ConvDecoder(
            self.info, w, self.latent_dim
        )
