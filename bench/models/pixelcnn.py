"""A small PixelCNN (`pixelcnn`, van den Oord et al. 2016): masked convolutions (type A on the
input, type B after it) so the distribution of each pixel depends only on the pixels before it
in raster order, and a categorical output over the pixels' grey levels. The density is exact:
log P(x) = sum_i log P(x_i | x_<i); sampling draws one pixel at a time (H x W network passes).

Single-channel images in [0, 1] on the grid k / (L - 1), L the dataset's level count
(DataInfo.levels: 17 for sklearn digits, 256 for mnist5k)."""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from bench.data.base import DataInfo
from bench.models.base import MODELS, Batch, Diagnostic, GenerativeModel, HParams
from bench.models.flow import descend_clipped, pixel_grid
from bench.models.nets import inference


class MaskedConv2d(nn.Conv2d):
    """A convolution that sees only the pixels above and to the left of its centre, and the
    centre itself for type B (type A, the first layer, excludes it)."""

    def __init__(self, kind: str, in_ch: int, out_ch: int, size: int) -> None:
        super().__init__(in_ch, out_ch, size, padding=size // 2)
        mask = torch.ones_like(self.weight)
        mid = size // 2
        mask[:, :, mid, mid + (kind == "B") :] = 0
        mask[:, :, mid + 1 :] = 0
        self.register_buffer("mask", mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class PixelCnnHParams(HParams):
    channels: int = Field(64, ge=1, description="feature maps of every masked layer")
    layers: int = Field(5, ge=1, description="type-B masked 3x3 layers after the 7x7 type-A one")
    lr: float = Field(1e-3, gt=0.0, description="Adam learning rate")


@MODELS.register("pixelcnn")
class PixelCnn(GenerativeModel):
    description = "PixelCNN: masked convolutions, categorical pixels, exact density; 1-ch images"
    family = "autoregressive"
    HParams: ClassVar[type[PixelCnnHParams]] = PixelCnnHParams
    hparams: PixelCnnHParams
    diagnostics = {
        "loss": Diagnostic("training NLL of the batch, nats per pixel", "loss"),
        "grad_norm": Diagnostic("L2 norm of the gradient before clipping", "grad_norm"),
    }

    def __init__(self, hparams: PixelCnnHParams, info: DataInfo) -> None:
        super().__init__(hparams, info)
        ch = hparams.channels
        blocks: list[nn.Module] = [MaskedConv2d("A", 1, ch, 7), nn.ReLU()]
        for _ in range(hparams.layers):
            blocks += [MaskedConv2d("B", ch, ch, 3), nn.ReLU()]
        blocks += [MaskedConv2d("B", ch, self.levels, 1)]
        self.net = nn.Sequential(*blocks)
        self.opt = torch.optim.Adam(self.parameters(), lr=hparams.lr)

    @classmethod
    def incompatibility(cls, info: DataInfo) -> str | None:
        if info.kind != "image" or info.shape[0] != 1 or info.value_range != (0.0, 1.0):
            return "pixelcnn models single-channel images with pixels in [0, 1]"
        if info.levels is None:
            return "pixelcnn's output is categorical, and this dataset does not say its grey levels"
        return None

    @property
    def levels(self) -> int:
        """The dataset's grey levels: the categories of every pixel."""
        assert self.info.levels is not None  # see incompatibility()
        return self.info.levels

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """(B, levels, H, W) logits of each pixel's level given the pixels before it."""
        return self.net(2.0 * x - 1.0)

    def nll(self, x: torch.Tensor) -> torch.Tensor:
        """-log P(x) per image (B,), in nats, on this model's grid of levels."""
        x = x.to(self.device)
        target = pixel_grid(x, self.levels).long()[:, 0]
        snapped = target[:, None].float() / (self.levels - 1)
        per_pixel = F.cross_entropy(self.logits(snapped), target, reduction="none")
        return per_pixel.flatten(1).sum(-1)

    def train_step(self, batch: Batch) -> dict[str, float]:
        loss = self.nll(batch.x).mean() / self.info.dim
        return {"loss": loss.item(), "grad_norm": descend_clipped(self.opt, loss, self)}

    def log_likelihood(
        self, x: torch.Tensor, levels: int | None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        with inference(self):
            return -self.nll(x)

    def likelihood_kind(self) -> str:
        return "exact"

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        _, h, w = self.info.shape
        x = torch.zeros(n, 1, h, w, device=self.device)
        with inference(self):
            for i in range(h):
                for j in range(w):
                    probs = torch.softmax(self.logits(x)[:, :, i, j], dim=1)
                    gen_device = generator.device if generator is not None else self.device
                    k = torch.multinomial(probs.to(gen_device), 1, generator=generator)
                    x[:, 0, i, j] = k[:, 0].to(self.device).float() / (self.levels - 1)
        return x
