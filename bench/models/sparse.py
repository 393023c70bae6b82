"""Sparse autoencoders: `sparse_ae_l1` (an L1 penalty on ReLU codes) and `sparse_ae_kl` (a KL
penalty pulling each sigmoid unit's mean activation towards ρ). Both are the plain MLP `ae` with
a code activation, a penalty, and sampled codes projected onto the set that activation can
produce."""

from __future__ import annotations

from typing import ClassVar

import torch
from pydantic import Field
from torch import nn

from bench.models.autoencoders import Ae, AeHParams
from bench.models.base import MODELS, RECONSTRUCTION_DIAGNOSTICS, Diagnostic


class SparseL1HParams(AeHParams):
    latent_dim: int = Field(64, ge=1, description="size of the (non-negative, ReLU) code")
    sparsity_weight: float = Field(
        0.01, ge=0.0, description="λ: weight of the L1 penalty on the code, per image"
    )


@MODELS.register("sparse_ae_l1")
class SparseAeL1(Ae):
    """ReLU codes with λ·Σ|h| added per image: exact zeros, a sparse code. Sampled codes are
    clipped at zero, the set the ReLU can produce."""

    description = "sparse AE: L1 penalty (λ) on the ReLU code activations"
    HParams: ClassVar[type[SparseL1HParams]] = SparseL1HParams
    hparams: SparseL1HParams
    diagnostics = {
        **RECONSTRUCTION_DIAGNOSTICS,
        "code_l1": Diagnostic("mean L1 norm of the batch's codes (before λ)"),
        "code_zeros": Diagnostic("share of code units exactly 0"),
    }

    def make_code_activation(self) -> nn.Module:
        return nn.ReLU()

    def project(self, z: torch.Tensor) -> torch.Tensor:
        return z.clamp(min=0.0)

    def penalty(self, code: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        l1 = code.abs().sum(-1).mean()
        zeros = (code == 0).float().mean().item()
        return self.hparams.sparsity_weight * l1, {"code_l1": l1.item(), "code_zeros": zeros}


class SparseKlHParams(AeHParams):
    latent_dim: int = Field(64, ge=1, description="size of the (sigmoid) code")
    rho: float = Field(0.05, gt=0.0, lt=1.0, description="ρ: target mean activation of each unit")
    sparsity_weight: float = Field(
        0.5, ge=0.0, description="weight of the KL sparsity penalty, per image"
    )


def bernoulli_kl(rho: float, rho_hat: torch.Tensor) -> torch.Tensor:
    """KL(Bernoulli(ρ) || Bernoulli(ρ̂)) per unit."""
    rho_hat = rho_hat.clamp(1e-6, 1 - 1e-6)
    return rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))


@MODELS.register("sparse_ae_kl")
class SparseAeKl(Ae):
    """Sigmoid codes; each unit's mean activation over the batch, ρ̂_j, is pulled towards ρ by
    Σ_j KL(ρ || ρ̂_j) (the sparse autoencoder of Ng's lecture notes). Sampled codes are clipped
    to [0, 1]."""

    description = "sparse AE: KL penalty pulling each unit's mean activation towards ρ"
    HParams: ClassVar[type[SparseKlHParams]] = SparseKlHParams
    diagnostics = {
        **RECONSTRUCTION_DIAGNOSTICS,
        "sparsity_kl": Diagnostic("Σ_j KL(ρ || ρ̂_j) of the batch (before its weight)"),
        "mean_activation": Diagnostic("mean over units of ρ̂_j, the batch-mean activation"),
    }
    hparams: SparseKlHParams

    def make_code_activation(self) -> nn.Module:
        return nn.Sigmoid()

    def project(self, z: torch.Tensor) -> torch.Tensor:
        return z.clamp(0.0, 1.0)

    def penalty(self, code: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        rho_hat = code.mean(0)
        kl = bernoulli_kl(self.hparams.rho, rho_hat).sum()
        return self.hparams.sparsity_weight * kl, {
            "sparsity_kl": kl.item(),
            "mean_activation": rho_hat.mean().item(),
        }
