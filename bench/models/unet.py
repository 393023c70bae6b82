"""The denoisers of the diffusion models: eps_theta(x_t, t) -> predicted noise, same shape as x_t.
Both see the timestep through a sinusoidal embedding (Vaswani et al. 2017, as in Ho et al. 2020)
followed by a small MLP, and add a projection of it inside every block, so each block can tell
how much noise it is looking at.

- `PointDenoiser`: an MLP on Fourier features for flat data (2-D points).
- `UNet`: a small U-Net for (C, H, W) images: residual blocks with group norm, one block per
  level on the way down and up, `levels` stride-2 downsamplings with skip connections across.

`DataScaler` maps data into the space the denoisers work in (about unit scale, like the noise).
"""

from __future__ import annotations

import math
from itertools import pairwise

import torch
from torch import nn

from bench.data.base import DataInfo

GROUPS = 8  # group-norm groups (fewer when a block has fewer channels)
FOURIER_MAX = 100.0  # highest input frequency of the point denoiser, in radians per unit


def sinusoidal(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Integer timesteps (B,) -> (B, dim) features sin(t w_k), cos(t w_k) with wavelengths from
    2pi to 2pi * 10,000 (geometric), so nearby timesteps get nearby codes at every scale."""
    half = dim // 2
    freqs = torch.exp(-math.log(10_000.0) * torch.arange(half, device=t.device) / max(half, 1))
    angles = t.float()[:, None] * freqs[None]
    code = torch.cat([angles.sin(), angles.cos()], dim=1)
    return nn.functional.pad(code, (0, dim - 2 * half))  # odd dim: one zero column


class TimeEmbedding(nn.Module):
    """t -> sinusoidal code -> Linear, SiLU, Linear: the vector every block reads t from."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.net = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.net(sinusoidal(t, self.dim))


class FourierFeatures(nn.Module):
    """Each coordinate x -> x, sin(f_k x), cos(f_k x) for `count` frequencies f_k from 1 to
    FOURIER_MAX (geometric). An MLP on raw coordinates learns high frequencies slowly (Tancik et
    al. 2020): on 2-D mixtures with modes of std ~0.02 (standardised) it blurs them for thousands
    of steps; with these features it resolves them in a few thousand."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self.register_buffer("freqs", torch.logspace(0, math.log10(FOURIER_MAX), count))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        angles = (x[:, :, None] * self.freqs).flatten(1)
        return torch.cat([x, angles.sin(), angles.cos()], dim=1)


class PointDenoiser(nn.Module):
    """Fourier features of x, then `layers` blocks h <- SiLU(Linear(h) + Linear(temb)) of width
    `hidden`, then Linear onto the data's width. The output layer starts at zero, so an untrained
    model predicts eps = 0."""

    def __init__(self, dim: int, hidden: int, layers: int, time_dim: int, fourier: int) -> None:
        super().__init__()
        self.time = TimeEmbedding(time_dim)
        self.features = FourierFeatures(fourier)
        widths = [dim * (1 + 2 * fourier)] + [hidden] * layers
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in pairwise(widths))
        self.times = nn.ModuleList(
            nn.Sequential(nn.SiLU(), nn.Linear(time_dim, hidden)) for _ in range(layers)
        )
        self.out = zeroed(nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        temb, h = self.time(t), self.features(x)
        for layer, proj in zip(self.layers, self.times, strict=True):
            h = nn.functional.silu(layer(h) + proj(temb))
        return self.out(h)


def zeroed(module: nn.Module) -> nn.Module:
    """`module` with weights and bias set to zero: residual branches and output layers that
    start as the identity / as zero keep early training stable (as in Ho et al.'s code)."""
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


def norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(GROUPS, channels), channels)


class ResBlock(nn.Module):
    """GN, SiLU, conv, + time projection, GN, SiLU, conv (zero-initialised), plus the input
    (through a 1x1 conv when the channel count changes)."""

    def __init__(self, c_in: int, c_out: int, time_dim: int) -> None:
        super().__init__()
        self.first = nn.Sequential(norm(c_in), nn.SiLU(), nn.Conv2d(c_in, c_out, 3, padding=1))
        self.time = nn.Sequential(nn.SiLU(), nn.Linear(time_dim, c_out))
        self.second = nn.Sequential(
            norm(c_out), nn.SiLU(), zeroed(nn.Conv2d(c_out, c_out, 3, padding=1))
        )
        self.skip = nn.Identity() if c_in == c_out else nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        h = self.first(x) + self.time(temb)[:, :, None, None]
        return self.skip(x) + self.second(h)


def unet_incompatibility(shape: tuple[int, ...], levels: int) -> str | None:
    """Why a U-Net with `levels` downsamplings cannot take images of `shape`, or None."""
    if len(shape) != 3:
        return f"the U-Net needs images (C, H, W), got shape {shape}"
    if any(side % 2**levels for side in shape[1:]):
        return (
            f"the U-Net halves the image {levels} times, so height and width must be "
            f"multiples of {2**levels} (e.g. 8, 28, 32), got {shape[1]}x{shape[2]}"
        )
    return None


class UNet(nn.Module):
    """conv in -> per level: ResBlock (kept as skip), stride-2 conv -> middle ResBlock -> per
    level: nearest upsampling + conv, concatenate the skip, ResBlock -> GN, SiLU, conv out.
    Level k has `width * 2**k` channels; the output conv starts at zero."""

    def __init__(self, channels: int, width: int, levels: int, time_dim: int) -> None:
        super().__init__()
        widths = [width * 2**k for k in range(levels + 1)]
        self.time = TimeEmbedding(time_dim)
        self.inp = nn.Conv2d(channels, width, 3, padding=1)
        self.down = nn.ModuleList(ResBlock(w, w, time_dim) for w in widths[:-1])
        self.pool = nn.ModuleList(
            nn.Conv2d(a, b, 3, stride=2, padding=1) for a, b in pairwise(widths)
        )
        self.mid = ResBlock(widths[-1], widths[-1], time_dim)
        self.unpool = nn.ModuleList(
            nn.Sequential(nn.Upsample(scale_factor=2.0), nn.Conv2d(b, a, 3, padding=1))
            for a, b in pairwise(widths)
        )
        self.up = nn.ModuleList(ResBlock(2 * w, w, time_dim) for w in widths[:-1])
        self.out = nn.Sequential(
            norm(width), nn.SiLU(), zeroed(nn.Conv2d(width, channels, 3, padding=1))
        )

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        temb, h = self.time(t), self.inp(x)
        skips = []
        for block, pool in zip(self.down, self.pool, strict=True):
            h = block(h, temb)
            skips.append(h)
            h = pool(h)
        h = self.mid(h, temb)
        for block, unpool in zip(reversed(self.up), reversed(self.unpool), strict=True):
            h = block(torch.cat([unpool(h), skips.pop()], dim=1), temb)
        return self.out(h)


class DataScaler(nn.Module):
    """x_model = (x - shift) / scale per channel (axis 1). Bounded data: the value range onto
    [-1, 1]; unbounded data: standardised with the first training batch's statistics."""

    def __init__(self, info: DataInfo) -> None:
        super().__init__()
        shape = (1, info.shape[0], *[1] * (len(info.shape) - 1))
        self.value_range = info.value_range
        low, high = info.value_range or (-1.0, 1.0)  # (-1, 1): the identity until fitted
        self.register_buffer("shift", torch.full(shape, (low + high) / 2))
        self.register_buffer("scale", torch.full(shape, (high - low) / 2))
        self.register_buffer("fitted", torch.tensor(info.value_range is not None))

    @property
    def bounded(self) -> bool:
        return self.value_range is not None

    def fit(self, x: torch.Tensor) -> None:
        dims = [d for d in range(x.dim()) if d != 1]
        std = x.std(dim=dims, keepdim=True, unbiased=False)
        self.shift.copy_(x.mean(dim=dims, keepdim=True))
        self.scale.copy_(torch.where(std > 1e-8, std, torch.ones_like(std)))  # constant: as is
        self.fitted.fill_(True)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.shift) / self.scale

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        x = z * self.scale + self.shift
        return x if self.value_range is None else x.clamp(*self.value_range)
