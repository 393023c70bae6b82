"""The Model contract. A model is an `nn.Module` that owns its optimizers; the training loop only
calls `train_step(batch)` and `sample(n)`, so it never knows whether it drives a GAN or an AE."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn
from torch.optim.lr_scheduler import LRScheduler

from bench.data.base import DataInfo, DataSplits
from bench.registry import Registry


class HParams(BaseModel):
    """Hyperparameters every model accepts; each model subclasses this with its own fields.
    Unknown keys are rejected: a misspelt hyperparameter never silently falls back to a default."""

    model_config = ConfigDict(extra="forbid")
    batch_size: int = Field(128, ge=1, description="samples per training step")
    lr: float = Field(2e-4, gt=0.0, description="Adam learning rate")


DiagnosticRole = Literal["loss", "grad_norm", "d_real", "d_fake", "other"]


@dataclass(frozen=True)
class Diagnostic:
    """One value `train_step` logs: what it means, and the role the stability metric reads it in
    (losses oscillate, gradient norms explode or vanish, D(x) and D(G(z)) saturate)."""

    meaning: str
    role: DiagnosticRole = "other"


ADVERSARIAL_DIAGNOSTICS: dict[str, Diagnostic] = {
    "loss_d": Diagnostic("discriminator (critic) loss of the step", "loss"),
    "loss_g": Diagnostic("generator loss of the step", "loss"),
    "d_real": Diagnostic(
        "mean D(x) on the real batch: a probability for logistic losses, else a raw score",
        "d_real",
    ),
    "d_fake": Diagnostic("mean D(G(z)) on the generated batch, on d_real's scale", "d_fake"),
    "grad_norm_d": Diagnostic("L2 norm of the discriminator's gradient", "grad_norm"),
    "grad_norm_g": Diagnostic("L2 norm of the generator's gradient", "grad_norm"),
}
RECONSTRUCTION_DIAGNOSTICS: dict[str, Diagnostic] = {
    "loss": Diagnostic("the training objective of the step", "loss"),
    "recon": Diagnostic("reconstruction loss of the batch (the objective's data term)"),
    "grad_norm": Diagnostic("L2 norm of the gradient of every parameter", "grad_norm"),
}


@dataclass
class Batch:
    x: torch.Tensor  # (B, *info.shape) in data space
    y: torch.Tensor | None = None  # integer labels when the dataset has them

    def to(self, device: torch.device) -> Batch:
        return Batch(self.x.to(device), None if self.y is None else self.y.to(device))


class GenerativeModel(nn.Module):
    """Base class of registered models."""

    description: ClassVar[str] = ""
    family: ClassVar[Literal["gan", "autoencoder", "diffusion", "flow", "autoregressive"]]
    HParams: ClassVar[type[HParams]] = HParams
    # Whether the logged d_real / d_fake are probabilities (logistic losses) rather than scores
    # (least-squares, hinge, Wasserstein critics); None for models without a discriminator.
    # The stability metrics only judge discriminator saturation on probabilities.
    discriminator_probabilities: bool | None = None
    # Every key train_step returns -> its meaning and role; `bench list models NAME` prints it and
    # the stability metric reads the roles (never guesses from key names).
    diagnostics: ClassVar[dict[str, Diagnostic]] = {}

    def __init__(self, hparams: HParams, info: DataInfo) -> None:
        super().__init__()
        self.hparams = hparams
        self.info = info

    @classmethod
    def incompatibility(cls, info: DataInfo) -> str | None:
        """Why this model cannot train on data described by `info`, or None when it can."""
        return None

    def train_step(self, batch: Batch) -> dict[str, float]:
        """One optimisation step; returns losses and diagnostics as plain floats, exactly the
        keys of `diagnostics`."""
        raise NotImplementedError

    def fit_sampler(self, splits: DataSplits) -> None:
        """Called before every evaluation. Models without a prior (plain autoencoders) fit their
        sampler here, e.g. a density on the training codes; others need nothing."""

    def training_state(self) -> dict:
        """Everything needed to continue training exactly: parameters and buffers, and the state
        of every optimizer (and LR scheduler) held as an attribute. Checkpoints save this."""
        return {
            "module": self.state_dict(),
            "optimizers": {name: opt.state_dict() for name, opt in self._stateful().items()},
        }

    def load_training_state(self, state: dict) -> None:
        self.load_state_dict(state["module"])
        for name, opt in self._stateful().items():
            opt.load_state_dict(state["optimizers"][name])

    def _stateful(self) -> dict[str, torch.optim.Optimizer | LRScheduler]:
        return {
            name: value
            for name, value in sorted(vars(self).items())
            if isinstance(value, torch.optim.Optimizer | LRScheduler)
        }

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n samples in data space, shape (n, *info.shape). Uses only `generator` for randomness so
        evaluation never disturbs the training random stream."""
        raise NotImplementedError

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device


MODELS: Registry[type[GenerativeModel]] = Registry("model", GenerativeModel)
