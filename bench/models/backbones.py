"""Network families for the GAN players, chosen by the `backbone` hyperparameter through
`BACKBONES`. A backbone knows how to build a generator (latent [+ condition] -> data space) and a
discriminator body (joined [+ condition], packed input -> feature vector); the GAN variants add the
loss, the output head of D and any extra layer, so every loss runs on every backbone.

- `mlp`: fully connected players on flattened data: points and images alike.
- `conv`: the DCGAN architecture (Radford et al. 2016) for square images: strided transposed
  convolutions with BatchNorm and ReLU in G, strided convolutions with LeakyReLU in D, no pooling
  and no fully connected hidden layers (z is projected by a transposed convolution from 1x1, and
  D's last feature map is flattened into its output layer).
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import nn

from bench.data.base import DataInfo
from bench.models.nets import flatten, output_head


class PlayerSpec(Protocol):
    """The hyperparameters a backbone reads (every GAN's HParams has them)."""

    latent_dim: int
    hidden: int
    layers: int
    g_hidden: int | None
    g_layers: int | None
    g_batchnorm: bool
    d_hidden: int | None
    d_layers: int | None
    d_maxout: int
    d_batchnorm: bool
    embed_dim: int


class Maxout(nn.Module):
    """Maxout unit (Goodfellow et al. 2013): `pieces` affine maps per output, keep the largest."""

    def __init__(self, in_dim: int, out_dim: int, pieces: int) -> None:
        super().__init__()
        self.out_dim, self.pieces = out_dim, pieces
        self.linear = nn.Linear(in_dim, out_dim * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).view(len(x), self.out_dim, self.pieces).amax(dim=-1)


class OneHot(nn.Module):
    """Labels -> one-hot float vectors: the conv backbone's label code (label maps in D)."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.num_classes = num_classes

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return nn.functional.one_hot(y, self.num_classes).float()


def _pair(x: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
    return x if c is None else torch.cat([x, c], dim=1)


# Joining a condition vector c (B, E) onto the players' inputs. Module-level functions, so the
# modules holding them still pickle.
def join_flat(x: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
    """(B, ...) and (B, E) -> (B, dim + E): flattened data with the condition appended."""
    return _pair(flatten(x), c)


def join_latent_map(z: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
    """Latent [+ condition] as a 1x1 map (B, L + E, 1, 1), the input of a transposed conv."""
    return _pair(z, c)[:, :, None, None]


def join_channels(x: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
    """Images (B, C, H, W) with each condition entry as one constant extra channel."""
    if c is None:
        return x
    return torch.cat([x, c[:, :, None, None].expand(-1, -1, *x.shape[2:])], dim=1)


class MlpBackbone:
    description = "fully connected players on flattened data (points and images)"
    join_g = staticmethod(join_flat)
    join_d = staticmethod(join_flat)

    def incompatibility(self, info: DataInfo) -> str | None:
        return None

    def generator(self, h: PlayerSpec, info: DataInfo, cond_width: int) -> nn.Module:
        """`g_layers` blocks Linear [-> BatchNorm] -> ReLU, then Linear onto the data's width."""
        width, depth = h.g_hidden or h.hidden, h.g_layers or h.layers
        widths = [h.latent_dim + cond_width] + [width] * depth
        blocks: list[nn.Module] = []
        for w_in, w_out in zip(widths[:-1], widths[1:], strict=True):
            blocks.append(nn.Linear(w_in, w_out))
            if h.g_batchnorm:
                blocks.append(nn.BatchNorm1d(w_out))
            blocks.append(nn.ReLU())
        blocks += [nn.Linear(widths[-1], info.dim), output_head(info), nn.Unflatten(1, info.shape)]
        return nn.Sequential(*blocks)

    def discriminator(
        self, h: PlayerSpec, info: DataInfo, cond_width: int, packing: int
    ) -> tuple[nn.Module, int]:
        """`d_layers` blocks of width `d_hidden`: Maxout with `d_maxout` pieces, or Linear ->
        LeakyReLU(0.2) when d_maxout is 0 or 1. Returns the body and its feature width."""
        width, depth = h.d_hidden or h.hidden, h.d_layers or h.layers
        widths = [(info.dim + cond_width) * packing] + [width] * depth
        blocks: list[nn.Module] = []
        for w_in, w_out in zip(widths[:-1], widths[1:], strict=True):
            if h.d_maxout > 1:
                blocks.append(Maxout(w_in, w_out, h.d_maxout))
            else:
                blocks += [nn.Linear(w_in, w_out), nn.LeakyReLU(0.2)]
            if h.d_batchnorm:
                blocks.append(nn.BatchNorm1d(w_out))
        return nn.Sequential(*blocks), width

    def label_encoder(self, num_classes: int, h: PlayerSpec) -> tuple[nn.Module, int]:
        return nn.Embedding(num_classes, h.embed_dim), h.embed_dim


def upsamplings(side: int) -> int:
    """How many stride-2 stages take a base map of side >= 2 up to `side` (at most 3): 2 for 8 and
    28 (2 -> 4 -> 8, 7 -> 14 -> 28), 3 for 32 (4 -> 8 -> 16 -> 32); 0 when none fits."""
    for n in (3, 2, 1):
        if side % 2**n == 0 and side // 2**n >= 2:
            return n
    return 0


class ConvBackbone:
    description = "DCGAN: strided (transposed) convolutions, BatchNorm, no pooling, no FC hidden"
    join_g = staticmethod(join_latent_map)
    join_d = staticmethod(join_channels)

    def incompatibility(self, info: DataInfo) -> str | None:
        if info.kind != "image" or len(info.shape) != 3:
            return (
                f"the conv backbone needs images (C, H, W), got {info.kind} of shape {info.shape}"
            )
        _, height, width = info.shape
        if height != width or upsamplings(height) < 2:
            return (
                f"the conv backbone needs square images whose side halves at least twice to a map "
                f"of side >= 2 (e.g. 8, 28, 32), got {height}x{width}"
            )
        return None

    def generator(self, h: PlayerSpec, info: DataInfo, cond_width: int) -> nn.Module:
        """1x1 latent -> base map of `hidden * 2**(n-1)` channels, then n stride-2 transposed
        convolutions halving the channels, the last one onto the image's channels."""
        channels, side = info.shape[0], info.shape[1]
        n, width = upsamplings(side), h.g_hidden or h.hidden
        widths = [width * 2 ** (n - 1 - i) for i in range(n)]
        blocks: list[nn.Module] = [
            nn.ConvTranspose2d(h.latent_dim + cond_width, widths[0], side // 2**n, 1, 0),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(),
        ]
        for w_in, w_out in zip(widths[:-1], widths[1:], strict=True):
            blocks += [nn.ConvTranspose2d(w_in, w_out, 4, 2, 1), nn.BatchNorm2d(w_out), nn.ReLU()]
        blocks += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1), output_head(info)]
        return nn.Sequential(*blocks)

    def discriminator(
        self, h: PlayerSpec, info: DataInfo, cond_width: int, packing: int
    ) -> tuple[nn.Module, int]:
        """n stride-2 convolutions doubling the channels, LeakyReLU(0.2), BatchNorm on all but the
        first (when d_batchnorm); the last map is flattened into the feature vector."""
        channels, side = info.shape[0], info.shape[1]
        n, width = upsamplings(side), h.d_hidden or h.hidden
        widths = [(channels + cond_width) * packing] + [width * 2**i for i in range(n)]
        blocks: list[nn.Module] = []
        for i, (w_in, w_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
            blocks.append(nn.Conv2d(w_in, w_out, 4, 2, 1))
            if h.d_batchnorm and i > 0:
                blocks.append(nn.BatchNorm2d(w_out))
            blocks.append(nn.LeakyReLU(0.2))
        blocks.append(nn.Flatten())
        return nn.Sequential(*blocks), widths[-1] * (side // 2**n) ** 2

    def label_encoder(self, num_classes: int, h: PlayerSpec) -> tuple[nn.Module, int]:
        return OneHot(num_classes), num_classes


Backbone = MlpBackbone | ConvBackbone
BACKBONES: dict[str, Backbone] = {"mlp": MlpBackbone(), "conv": ConvBackbone()}


def init_normal(module: nn.Module, std: float | None) -> None:
    """Weights of every Linear/conv drawn from N(0, std) and biases zeroed, as in DCGAN and
    PacGAN; std None keeps PyTorch's default initialisation."""
    if std is None:
        return
    for m in module.modules():
        if isinstance(m, nn.Linear | nn.Conv2d | nn.ConvTranspose2d):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
