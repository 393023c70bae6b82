"""What a model can do beyond `train_step` and `sample`, as typed Protocols.

The evaluator's probes (bench/probes/) each need one of these abilities (or one of a few), and a
metric applies to a model class only when the class has the abilities its probes need. The
Protocols are runtime-checkable and hold methods only, so `issubclass(model_cls, Reconstructs)`
decides it from the class alone, before any model is built (the suite planner does so). Each
lists exactly the methods its probes call; a model gains an ability by defining them, with no
base class to join.

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


@runtime_checkable
class Generates(Protocol):
    """A latent with a prior and a differentiable generator (the GANs): what latent optimisation
    (in-painting, anomaly residuals) and latent interpolation need."""

    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """(n, latent_dim) draws from the latent prior, N(0, I), with `generator` only."""
        ...

    def generate(self, z: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """(B, *info.shape) samples of latents z, differentiable in z; any other noise (StyleGAN's
        per-layer noise) is drawn from `generator`, so a freshly seeded one fixes it."""
        ...


@runtime_checkable
class Discriminates(Protocol):
    """A discriminator (or critic) that scores how real data looks (GANs)."""

    def discriminate(self, x: torch.Tensor) -> torch.Tensor:
        """(B,) scores of x (B, *info.shape), higher = more like the training data (the logit
        for logistic losses, the raw critic score otherwise); no gradients."""
        ...


@runtime_checkable
class Inpaints(Protocol):
    """Completes partly observed data by a method of its own (PCA's closed-form projection,
    DDPM's replacement-conditioned reverse process)."""

    def inpaint(
        self, x: torch.Tensor, known: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """x (B, *info.shape) with the entries where `known` (bool, x's shape) is False filled
        in; known entries come back as given. Randomness from `generator` only."""
        ...


@runtime_checkable
class DecodesNoise(Protocol):
    """Maps Gaussian noise images x_T deterministically to data (DDPM's DDIM decoder)."""

    def noise(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        """(n, *info.shape) draws of x_T ~ N(0, I) with `generator` only."""
        ...

    def decode_latent(self, x_t: torch.Tensor) -> torch.Tensor:
        """(B, *info.shape) data of latents x_T by the deterministic (DDIM) reverse process."""
        ...


@runtime_checkable
class Density(Protocol):
    """A likelihood of held-out data (flows, autoregressive models; a bound for VAEs and DDPM)."""

    def log_likelihood(
        self, x: torch.Tensor, levels: int | None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """log p(x) per sample (B,), in nats: a continuous density for points (`levels` None),
        the probability of the discrete pixels for images with `levels` grey levels (x on the
        grid k / (levels - 1) of [0, 1]); no gradients. Noise (dequantization, importance
        draws) from `generator` only."""
        ...

    def likelihood_kind(self) -> str:
        """How log_likelihood is computed, recorded with the value: 'exact', or the bound, e.g.
        'bound: importance-weighted, k=64'."""
        ...


def members(ability: type) -> list[str]:
    """The methods a Protocol above asks for, in the order it declares them."""
    return [name for name, value in vars(ability).items() if callable(value) and name[0] != "_"]


def missing(ability: type, model: type) -> list[str]:
    """The methods of `ability` that the class `model` lacks (empty when it has the ability)."""
    return [name for name in members(ability) if not callable(getattr(model, name, None))]
