"""PCA as a benchmarked autoencoder (`pca`): the optimum a linear autoencoder reaches, computed
exactly from streaming moments rather than learned, so every learned autoencoder has a reference
reconstruction error to beat on the same data. Samples like every prior-less autoencoder, from a
density fitted on its codes (bench/models/autoencoders.py)."""

from __future__ import annotations

from typing import ClassVar

import torch
from pydantic import Field

from bench.data.base import DataInfo
from bench.errors import BenchError
from bench.models.autoencoders import ExPostAutoencoder, SamplerHParams
from bench.models.base import MODELS, RECONSTRUCTION_DIAGNOSTICS, Batch, Diagnostic
from bench.models.nets import flatten, unflatten


class PcaHParams(SamplerHParams):
    latent_dim: int = Field(8, ge=1, description="principal components kept (<= data dim)")
    lr: float = Field(1e-3, gt=0.0, description="unused: PCA takes no gradient steps")


@MODELS.register("pca")
class Pca(ExPostAutoencoder):
    """Streaming exact PCA: each step adds the batch to running first and second moments; the
    principal subspace is the top eigenvectors of the running covariance, recomputed whenever
    the number of points seen has grown by REFRESH_GROWTH (so about log(N) eigendecompositions in
    a run, not one per step), and always before it is used outside training."""

    description = "PCA: the linear autoencoder's optimum (streaming exact eigenvectors), reference"
    HParams: ClassVar[type[PcaHParams]] = PcaHParams
    hparams: PcaHParams
    diagnostics = {
        **RECONSTRUCTION_DIAGNOSTICS,
        "grad_norm": Diagnostic("always 0: PCA takes no gradient step (kept for a uniform log)"),
        "explained_variance": Diagnostic("share of the running variance the components keep"),
    }
    REFRESH_GROWTH = 1.5
    # In-painting's ridge, relative to the mean diagonal of W_o^T W_o: negligible when the
    # observed rows of the components are well conditioned, a unique code when they are not.
    INPAINT_RIDGE = 1e-6

    def __init__(self, hparams: PcaHParams, info: DataInfo) -> None:
        super().__init__(hparams, info)
        if hparams.latent_dim > info.dim:
            raise BenchError(
                f"pca keeps latent_dim={hparams.latent_dim} components of {info.dim}-dimensional "
                "data, but there are only as many components as dimensions",
                fix=f"set latent_dim to at most {info.dim}",
            )
        self.latent_dim = hparams.latent_dim
        d = info.dim
        self.register_buffer("seen", torch.zeros((), dtype=torch.float64))
        self.register_buffer("refreshed_at", torch.zeros((), dtype=torch.float64))
        self.register_buffer("total", torch.zeros(d, dtype=torch.float64))
        self.register_buffer("outer", torch.zeros(d, d, dtype=torch.float64))
        self.register_buffer("mean", torch.zeros(d))
        self.register_buffer("components", torch.eye(d)[:, : self.latent_dim].clone())
        self.register_buffer("explained", torch.zeros(()))
        self.density = self.make_density()

    @property
    def device(self) -> torch.device:  # no parameters: the buffers say where the model lives
        return self.mean.device

    def refresh(self) -> None:
        """Principal subspace of the data seen so far (eigh of the covariance, float64)."""
        n = self.seen
        mean = self.total / n
        cov = self.outer / n - torch.outer(mean, mean)
        values, vectors = torch.linalg.eigh(cov)  # ascending
        top = vectors[:, -self.latent_dim :].flip(1)
        self.mean.copy_(mean.float())
        self.components.copy_(top.float())
        total_var = values.clamp(min=0).sum()
        kept = values[-self.latent_dim :].clamp(min=0).sum()
        self.explained.fill_(float(kept / total_var) if total_var > 0 else 1.0)
        self.refreshed_at.copy_(n)

    def _fresh(self) -> None:
        if self.seen > self.refreshed_at:
            self.refresh()

    def train_step(self, batch: Batch) -> dict[str, float]:
        x = flatten(batch.x.to(self.device)).double()
        self.seen += len(x)
        self.total += x.sum(0)
        self.outer += x.T @ x
        if self.seen >= self.REFRESH_GROWTH * self.refreshed_at:
            self.refresh()
        with torch.no_grad():
            x_hat = self._linear_decode(self._linear_encode(batch.x.to(self.device)))
            recon = (x_hat - flatten(batch.x.to(self.device))).pow(2).sum(-1).mean().item()
        # No gradients: grad_norm is logged as 0 to keep the autoencoders' log keys uniform.
        return {
            "loss": recon,
            "recon": recon,
            "explained_variance": self.explained.item(),
            "grad_norm": 0.0,
        }

    def _linear_encode(self, x: torch.Tensor) -> torch.Tensor:
        return (flatten(x).float() - self.mean) @ self.components

    def _linear_decode(self, z: torch.Tensor) -> torch.Tensor:
        x = self.mean + z @ self.components.T
        if self.info.value_range is not None:  # the data's support; only lowers the error
            x = x.clamp(*self.info.value_range)
        return x

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        self._fresh()
        return self._linear_encode(x.to(self.device))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        self._fresh()
        return unflatten(self._linear_decode(z), self.info)

    def inpaint(
        self, x: torch.Tensor, known: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """x with the entries where `known` is False filled in by projection onto the principal
        subspace from the observed entries alone (Inpaints): the code z minimises
        ||W_o z + mu_o - x_o||^2 (+ a tiny ridge, `INPAINT_RIDGE`), then x = W z + mu in the
        value range, known entries kept. Closed form, float64; `generator` is unused."""
        self._fresh()
        x, known = x.to(self.device), known.to(self.device)
        flat, k = flatten(x).double(), flatten(known).double()
        w, mu = self.components.double(), self.mean.double()
        weighted = k.unsqueeze(-1) * w  # (B, D, K): the rows of W that are observed
        gram = weighted.transpose(1, 2) @ w  # W_o^T W_o per image
        ridge = self.INPAINT_RIDGE * gram.diagonal(dim1=1, dim2=2).mean(-1).clamp(min=1e-12)
        eye = torch.eye(self.latent_dim, dtype=gram.dtype, device=gram.device)
        rhs = ((k * (flat - mu)) @ w).unsqueeze(-1)
        z = torch.linalg.solve(gram + ridge[:, None, None] * eye, rhs).squeeze(-1)
        filled = unflatten(self._linear_decode(z.float()), self.info)
        return torch.where(known, x, filled)
