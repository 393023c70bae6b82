"""Encoder and decoder networks shared by the autoencoders and VAEs, chosen by name through
`ENCODERS`. An encoder maps data-space x (B, *info.shape) [+ a condition vector] to (B, out_dim);
a decoder maps codes (B, in_dim) [+ condition] to raw outputs (B, *info.shape): no output
activation, since the loss or likelihood decides what the raw values mean.

- `mlp`: fully connected layers on flattened data, any shape; the decoder mirrors the widths.
- `conv`: strided 4×4 convolutions for C×H×W images of side >= 4, halving while the side is
  at least 8 (8×8 digits: 8→4; 28×28 MNIST: 28→14→7), then a linear layer; the decoder mirrors
  them with transposed convolutions (output padding restores odd sides exactly), the last of
  which gives the raw image. A condition joins after the convolutions. Small on purpose: it
  trains on CPU in suites.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from bench.data.base import DataInfo
from bench.models.nets import flatten, unflatten


def mlp_widths(in_dim: int, widths: Sequence[int], out_dim: int) -> nn.Sequential:
    """Linear+ReLU blocks through `widths`, then a bare Linear to `out_dim`."""
    blocks: list[nn.Module] = []
    for w_in, w_out in zip([in_dim, *widths][:-1], widths, strict=True):
        blocks += [nn.Linear(w_in, w_out), nn.ReLU()]
    blocks.append(nn.Linear(([in_dim, *widths])[-1], out_dim))
    return nn.Sequential(*blocks)


def _joined(h: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
    return h if cond is None else torch.cat([h, cond.to(h.dtype)], dim=1)


class MlpEncoder(nn.Module):
    def __init__(self, info: DataInfo, widths: Sequence[int], out_dim: int, cond_dim: int = 0):
        super().__init__()
        self.net = mlp_widths(info.dim + cond_dim, widths, out_dim)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(_joined(flatten(x), cond))


class MlpDecoder(nn.Module):
    def __init__(self, info: DataInfo, widths: Sequence[int], in_dim: int, cond_dim: int = 0):
        super().__init__()
        self.info = info
        self.net = mlp_widths(in_dim + cond_dim, list(reversed(widths)), info.dim)

    def forward(self, z: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        return unflatten(self.net(_joined(z, cond)), self.info)


def conv_incompatibility(info: DataInfo) -> str | None:
    """Why the convolutional networks cannot handle data described by `info`, or None."""
    if info.kind != "image" or len(info.shape) != 3:
        return f"it needs C×H×W images, and this dataset holds {info.kind} of shape {info.shape}"
    if min(info.shape[1:]) < 4:
        return f"it needs images of side >= 4, not {info.shape[1]}×{info.shape[2]}"
    return None


def conv_sides(side: int) -> list[int]:
    """Spatial sides along the encoder: halve (floor) while the side is at least 8."""
    sides = [side]
    while sides[-1] >= 8:
        sides.append(sides[-1] // 2)
    return sides


@dataclass(frozen=True)
class ConvPlan:
    """Channels and sides of the convolutional stack for one image shape: one strided block per
    halving, `width` channels after the first, doubling after each next."""

    channels: list[int]  # input channels, then after each strided block
    heights: list[int]  # the side before the first block, then after each
    widths: list[int]

    @classmethod
    def for_info(cls, info: DataInfo, width: int) -> ConvPlan:
        heights, widths = conv_sides(info.shape[1]), conv_sides(info.shape[2])
        sides = min(len(heights), len(widths))
        channels = [info.shape[0]] + [width * 2**i for i in range(sides - 1)]
        return cls(channels, heights[:sides], widths[:sides])

    @property
    def flat(self) -> int:
        return self.channels[-1] * self.heights[-1] * self.widths[-1]


class ConvEncoder(nn.Module):
    def __init__(self, info: DataInfo, width: int, out_dim: int, cond_dim: int = 0):
        super().__init__()
        plan = ConvPlan.for_info(info, width)
        layers: list[nn.Module] = []
        for c_in, c_out in zip(plan.channels[:-1], plan.channels[1:], strict=True):
            layers += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), nn.ReLU()]
        self.trunk = nn.Sequential(*layers, nn.Flatten())
        self.head = nn.Linear(plan.flat + cond_dim, out_dim)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(_joined(self.trunk(x), cond))


class ConvDecoder(nn.Module):
    def __init__(self, info: DataInfo, width: int, in_dim: int, cond_dim: int = 0):
        super().__init__()
        plan = ConvPlan.for_info(info, width)
        self.start = (plan.channels[-1], plan.heights[-1], plan.widths[-1])
        self.stem = nn.Linear(in_dim + cond_dim, plan.flat)
        layers: list[nn.Module] = []
        for i in range(len(plan.channels) - 1, 0, -1):
            # output_padding restores an odd side that the encoder's halving rounded down
            pad = (
                plan.heights[i - 1] - 2 * plan.heights[i],
                plan.widths[i - 1] - 2 * plan.widths[i],
            )
            layers += [
                nn.ReLU(),
                nn.ConvTranspose2d(
                    plan.channels[i], plan.channels[i - 1], 4, 2, padding=1, output_padding=pad
                ),
            ]
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        h = self.stem(_joined(z, cond))
        return self.body(h.reshape(len(h), *self.start))


@dataclass(frozen=True)
class Coder:
    """How to build one network family's encoder and decoder. `size` is the family's width
    setting: the hidden widths of an MLP, the first channel count of a conv stack."""

    encoder: Callable[..., nn.Module]
    decoder: Callable[..., nn.Module]
    incompatibility: Callable[[DataInfo], str | None]


ENCODERS: dict[str, Coder] = {
    "mlp": Coder(MlpEncoder, MlpDecoder, lambda info: None),
    "conv": Coder(ConvEncoder, ConvDecoder, conv_incompatibility),
}
