"""CycleGAN (Zhu et al., 2017): unpaired translation between two image domains A and B with two
translators G: A -> B and F: B -> A, a PatchGAN discriminator per domain, the least-squares
adversarial loss, and the cycle-consistency loss |F(G(a)) - a| + |G(F(b)) - b| that makes the
translators (near) inverses of each other. Sized for 28×28 digits; runs on paired-domain data
(bench.data.paired), whose pairs it never uses in training.

Unpaired training: each batch of paired samples is cut in two; the A images come from the first
half and the B images from the second, so no B image in a step is the counterpart of an A image
in it (the batch stream draws distinct samples within an epoch). Each domain thus sees half the
batch. Left out: the paper's history pool of generated images and its learning-rate decay."""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from bench.data.base import DataInfo, DataSplits
from bench.data.paired import domain_a, domain_b, pair
from bench.models.base import (
    ADVERSARIAL_DIAGNOSTICS,
    MODELS,
    Batch,
    Diagnostic,
    GenerativeModel,
    HParams,
)
from bench.models.nets import descend, frozen, grad_norm, inference, output_head


class ResidualBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.InstanceNorm2d(channels, affine=True),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.InstanceNorm2d(channels, affine=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def norm_relu(channels: int) -> list[nn.Module]:
    return [nn.InstanceNorm2d(channels, affine=True), nn.ReLU()]


def translator(info: DataInfo, channels: int, res_blocks: int) -> nn.Sequential:
    """One-channel image -> one-channel image: encoder (two stride-2 convs, H -> H/4), residual
    blocks, decoder (two transposed convs back to H), then the data's value range."""
    c = channels
    return nn.Sequential(
        nn.Conv2d(1, c, 7, padding=3),
        *norm_relu(c),
        nn.Conv2d(c, 2 * c, 3, stride=2, padding=1),
        *norm_relu(2 * c),
        nn.Conv2d(2 * c, 4 * c, 3, stride=2, padding=1),
        *norm_relu(4 * c),
        *[ResidualBlock(4 * c) for _ in range(res_blocks)],
        nn.ConvTranspose2d(4 * c, 2 * c, 3, stride=2, padding=1, output_padding=1),
        *norm_relu(2 * c),
        nn.ConvTranspose2d(2 * c, c, 3, stride=2, padding=1, output_padding=1),
        *norm_relu(c),
        nn.Conv2d(c, 1, 7, padding=3),
        output_head(info),
    )


def patch_discriminator(channels: int) -> nn.Sequential:
    """PatchGAN: one real/fake score per (overlapping) patch, (B, 1, H/4, W/4) for H×W input."""
    c = channels
    return nn.Sequential(
        nn.Conv2d(1, c, 4, stride=2, padding=1),
        nn.LeakyReLU(0.2),
        nn.Conv2d(c, 2 * c, 4, stride=2, padding=1),
        nn.InstanceNorm2d(2 * c, affine=True),
        nn.LeakyReLU(0.2),
        nn.Conv2d(2 * c, 1, 3, padding=1),
    )


def least_squares(scores: torch.Tensor, target: float) -> torch.Tensor:
    """LSGAN loss (Mao et al., 2017): mean (D(x) - target)²."""
    return (scores - target).pow(2).mean()


class CycleGanHParams(HParams):
    """Inherits `batch_size` (128; half per domain) and `lr` (2e-4, all four nets)."""

    batch_size: int = Field(64, ge=2, description="paired samples per step; half feed each domain")
    channels: int = Field(16, ge=1, description="feature maps of the first conv, G and D")
    res_blocks: int = Field(2, ge=0, description="residual blocks at the translators' bottleneck")
    lambda_cycle: float = Field(10.0, ge=0.0, description="weight of the cycle-consistency loss")
    lambda_identity: float = Field(
        0.0, ge=0.0, description="weight of the identity loss |G(b) - b| + |F(a) - a| (0: none)"
    )
    beta1: float = Field(0.5, ge=0.0, lt=1.0, description="Adam beta1, all four nets")
    beta2: float = Field(0.999, ge=0.0, lt=1.0, description="Adam beta2, all four nets")


@MODELS.register("cyclegan")
class CycleGan(GenerativeModel):
    description = (
        "CycleGAN: two conv translators A<->B, PatchGAN discriminators, LSGAN + cycle loss "
        "(paired-domain data only)"
    )
    family = "gan"
    HParams: ClassVar[type[CycleGanHParams]] = CycleGanHParams
    discriminator_probabilities = False
    diagnostics = {
        **ADVERSARIAL_DIAGNOSTICS,
        "loss_g": Diagnostic("both translators' loss: adversarial + λ·cycle", "loss"),
        "adversarial_g": Diagnostic("least-squares adversarial loss of both translators"),
        "cycle": Diagnostic("L1 cycle-consistency loss A->B->A and B->A->B"),
    }
    hparams: CycleGanHParams

    def __init__(self, hparams: CycleGanHParams, info: DataInfo) -> None:
        super().__init__(hparams, info)
        h = hparams
        self.generators = nn.ModuleDict(
            {
                "ab": translator(info, h.channels, h.res_blocks),
                "ba": translator(info, h.channels, h.res_blocks),
            }
        )
        self.discriminators = nn.ModuleDict(
            {"a": patch_discriminator(h.channels), "b": patch_discriminator(h.channels)}
        )
        betas = (h.beta1, h.beta2)
        self.opt_g = torch.optim.Adam(self.generators.parameters(), lr=h.lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.discriminators.parameters(), lr=h.lr, betas=betas)
        # Held-out domain-A images that sample() translates; set by fit_sampler, not a parameter
        # (data, not model state: it is set again before every evaluation).
        self.sources: torch.Tensor | None = None

    @classmethod
    def incompatibility(cls, info: DataInfo) -> str | None:
        if info.pairing is None:
            return (
                "cyclegan translates between two image domains and needs a paired-domain dataset "
                "(channel 0 = domain A, channel 1 = domain B), such as mnist_pairs"
            )
        if info.kind != "image" or len(info.shape) != 3 or info.shape[0] != 2:
            return f"cyclegan needs paired images of shape (2, H, W), not {info.shape}"
        if any(side % 4 for side in info.shape[1:]):
            return f"cyclegan halves the image side twice; {info.shape[1:]} is not divisible by 4"
        return None

    def translate(self, a: torch.Tensor) -> torch.Tensor:
        """A images (B, 1, H, W) -> their translations into domain B."""
        return self.generators["ab"](a)

    def translate_back(self, b: torch.Tensor) -> torch.Tensor:
        """B images (B, 1, H, W) -> their translations into domain A."""
        return self.generators["ba"](b)

    def cycle_reconstruct(
        self, a: torch.Tensor, b: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(F(G(a)), G(F(b))): each domain translated to the other and back."""
        g, f = self.generators["ab"], self.generators["ba"]
        return f(g(a)), g(f(b))

    def train_step(self, batch: Batch) -> dict[str, float]:
        x = batch.x.to(self.device)
        half = len(x) // 2
        if half == 0:
            raise ValueError("cyclegan needs at least 2 samples per batch (one per domain)")
        a, b = domain_a(x[:half]), domain_b(x[half : 2 * half])
        g_logs, fake_a, fake_b = self._generator_step(a, b)
        return {**g_logs, **self._discriminator_step(a, b, fake_a, fake_b)}

    def _generator_step(
        self, a: torch.Tensor, b: torch.Tensor
    ) -> tuple[dict[str, float], torch.Tensor, torch.Tensor]:
        h = self.hparams
        g, f = self.generators["ab"], self.generators["ba"]
        with frozen(self.discriminators):
            fake_b, fake_a = g(a), f(b)
            adversarial = least_squares(self.discriminators["b"](fake_b), 1.0) + least_squares(
                self.discriminators["a"](fake_a), 1.0
            )
            cycle = F.l1_loss(f(fake_b), a) + F.l1_loss(g(fake_a), b)
            loss = adversarial + h.lambda_cycle * cycle
            if h.lambda_identity > 0:
                loss = loss + h.lambda_identity * (F.l1_loss(g(b), b) + F.l1_loss(f(a), a))
            descend(self.opt_g, loss)
        logs = {
            "loss_g": loss.item(),
            "grad_norm_g": grad_norm(self.generators),
            "adversarial_g": adversarial.item(),
            "cycle": cycle.item(),
        }
        return logs, fake_a.detach(), fake_b.detach()

    def _discriminator_step(
        self, a: torch.Tensor, b: torch.Tensor, fake_a: torch.Tensor, fake_b: torch.Tensor
    ) -> dict[str, float]:
        d_a, d_b = self.discriminators["a"], self.discriminators["b"]
        real_scores = torch.cat([d_a(a).flatten(), d_b(b).flatten()])
        fake_scores = torch.cat([d_a(fake_a).flatten(), d_b(fake_b).flatten()])
        # Per domain 0.5·[(D(real) - 1)² + D(fake)²], as in the paper; summed over both domains.
        loss = least_squares(real_scores, 1.0) + least_squares(fake_scores, 0.0)
        descend(self.opt_d, loss)
        return {
            "loss_d": loss.item(),
            "d_real": real_scores.mean().item(),
            "d_fake": fake_scores.mean().item(),
            "grad_norm_d": grad_norm(self.discriminators),
        }

    def fit_sampler(self, splits: DataSplits) -> None:
        """Translate held-out A images at evaluation: never seen in training, so the measured
        translation error is that of new inputs."""
        self.sources = domain_a(splits.heldout).float()

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Paired samples [a, G(a)] (n, 2, H, W) for held-out source images a, taken in random
        order (from `generator`), every source once before any repeats."""
        if self.sources is None or len(self.sources) == 0:
            raise RuntimeError(
                "cyclegan samples by translating held-out domain-A images: call "
                "fit_sampler(splits) first (the evaluator does so before every evaluation)"
            )
        a = self.sources[source_order(n, len(self.sources), generator)].to(self.device)
        with inference(self):
            return pair(a, self.translate(a))


def source_order(n: int, m: int, generator: torch.Generator | None) -> torch.Tensor:
    """n indices into m sources: concatenated random permutations of range(m), on the CPU."""
    device = generator.device if generator is not None else torch.device("cpu")
    rounds = -(-n // m)
    perms = [torch.randperm(m, generator=generator, device=device) for _ in range(rounds)]
    return torch.cat(perms)[:n].cpu()
