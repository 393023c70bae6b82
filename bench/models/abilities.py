"""What a model can do beyond `train_step` and `sample`, as typed Protocols.

The evaluator's probes (bench/probes.py) each need one of these abilities, and a metric applies
to a model class only when the class has every ability its probes need. The Protocols are
runtime-checkable and hold methods only, so `issubclass(model_cls, Reconstructs)` decides it from
the class alone, before any model is built (the suite planner does so). Each lists exactly the
methods its probes call; a model gains an ability by defining them, with no base class to join.

Conditional models (`conditional = True`, e.g. `cvae`) take the class labels `y` wherever the
signatures below have one; other models accept and ignore it."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class Encodes(Protocol):
    """Maps data to a deterministic code: the code of a plain autoencoder, the posterior mean
    of a VAE."""

    def codes(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """(B, latent_dim) codes of x (B, *info.shape); no gradients."""
        ...


@runtime_checkable
class Reconstructs(Protocol):
    """Maps data through its code and back (an autoencoder)."""

    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """(B, *info.shape) reconstructions of x in data space; no gradients."""
        ...


@runtime_checkable
class Variational(Protocol):
    """A posterior q(z | x) and a likelihood bound (the VAE family)."""

    def encode(
        self, x: torch.Tensor, y: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The posterior q(z | x) as (mean, logvar), each (B, latent_dim)."""
        ...

    def neg_elbo(
        self,
        x: torch.Tensor,
        generator: torch.Generator | None = None,
        y: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(reconstruction NLL, KL) per sample from one draw z ~ q(z | x)."""
        ...

    def elbo(
        self,
        x: torch.Tensor,
        generator: torch.Generator | None = None,
        y: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Single-draw ELBO per sample (B,), in nats; no gradients."""
        ...

    def importance_nll(
        self,
        x: torch.Tensor,
        k: int = 64,
        generator: torch.Generator | None = None,
        y: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """-log p(x) per sample (B,) by importance sampling with k draws; no gradients."""
        ...


@runtime_checkable
class SamplesCodes(Protocol):
    """Draws codes from its sampler (a prior, or a density fitted on its codes) and decodes
    them: what a latent traversal needs."""

    def sample_codes(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """(n, latent_dim) codes drawn with `generator` only."""
        ...

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(B, *info.shape) data-space outputs of codes (B, latent_dim); no gradients needed."""
        ...


@runtime_checkable
class Translates(Protocol):
    """Translates between the two domains of paired-domain data (bench.data.paired), one image
    channel each way."""

    def translate(self, a: torch.Tensor) -> torch.Tensor:
        """Domain-A images (B, 1, H, W) -> their translations into domain B."""
        ...

    def translate_back(self, b: torch.Tensor) -> torch.Tensor:
        """Domain-B images (B, 1, H, W) -> their translations into domain A."""
        ...


def members(ability: type) -> list[str]:
    """The methods a Protocol above asks for, in the order it declares them."""
    return [name for name, value in vars(ability).items() if callable(value) and name[0] != "_"]


def missing(ability: type, model: type) -> list[str]:
    """The methods of `ability` that the class `model` lacks (empty when it has the ability)."""
    return [name for name in members(ability) if not callable(getattr(model, name, None))]
