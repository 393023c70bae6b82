"""Normalizing flows (`flow` family): `realnvp`, affine coupling layers (Dinh et al. 2017), and
`maf`, a masked autoregressive flow (Papamakarios et al. 2017), both from zuko, on 2-D points and
flattened images. They have an exact density (the Density ability): log p(x) = log N(f(x)) +
log|det df/dx|.

Images are discrete: pixels on the grid k / (L - 1) with L grey levels are dequantized to
y = (k + u) / L, u ~ U[0, 1)^D, squeezed into logit space (the usual RealNVP preprocessing, its
log-determinant counted) and modelled there; log P(x) >= E_u log p(y) - D log L (Theis et al.
2016), so an image's NLL from one u draw is a bound, and a uniform density gives log2 L bits/dim.
Training, sampling and the likelihood use the dataset's level count (DataInfo.levels)."""

from __future__ import annotations

import math
from typing import ClassVar

import torch
import zuko
from pydantic import Field

from bench.data.base import DataInfo
from bench.models.base import MODELS, Batch, Diagnostic, GenerativeModel, HParams
from bench.models.nets import flatten, inference, unflatten

ALPHA = 0.05  # logit preprocessing squeezes y into [ALPHA, 1 - ALPHA] (Dinh et al. 2017)
GRAD_CLIP = 100.0


def pixel_grid(x: torch.Tensor, levels: int) -> torch.Tensor:
    """Integer levels k in [0, levels) of pixels x in [0, 1] on the grid k / (levels - 1)."""
    return torch.round(x.clamp(0.0, 1.0) * (levels - 1))


def dequantize(
    x: torch.Tensor, levels: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """y = (k + u) / levels in [0, 1), one uniform u per pixel drawn with `generator` only."""
    gen_device = generator.device if generator is not None else x.device
    u = torch.rand(x.shape, device=gen_device, generator=generator).to(x.device)
    return (pixel_grid(x, levels) + u) / levels


def quantize(y: torch.Tensor, levels: int) -> torch.Tensor:
    """Dequantized values y in [0, 1] back to pixels on the grid k / (levels - 1)."""
    return (y * levels).floor().clamp(0, levels - 1) / (levels - 1)


def to_logit(y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """s = logit(ALPHA + (1 - 2 ALPHA) y) of flat y (B, D), and log|det ds/dy| per row (B,)."""
    p = ALPHA + (1 - 2 * ALPHA) * y
    s = torch.log(p) - torch.log1p(-p)
    ladj = (math.log(1 - 2 * ALPHA) - torch.log(p) - torch.log1p(-p)).sum(-1)
    return s, ladj


def from_logit(s: torch.Tensor) -> torch.Tensor:
    return ((torch.sigmoid(s) - ALPHA) / (1 - 2 * ALPHA)).clamp(0.0, 1.0)


class FlowHParams(HParams):
    transforms: int = Field(5, ge=1, description="coupling / autoregressive layers")
    hidden: int = Field(128, ge=1, description="width of each layer's conditioner network")
    depth: int = Field(2, ge=1, description="hidden layers of each conditioner network")
    lr: float = Field(1e-3, gt=0.0, description="Adam learning rate")


class Flow(GenerativeModel):
    """A zuko flow over flat data; subclasses name the zuko flow class."""

    family = "flow"
    HParams: ClassVar[type[FlowHParams]] = FlowHParams
    hparams: FlowHParams
    zuko_flow: ClassVar[type[zuko.flows.Flow]]
    diagnostics = {
        "loss": Diagnostic("training NLL of the batch, nats per dimension", "loss"),
        "grad_norm": Diagnostic("L2 norm of the gradient before clipping", "grad_norm"),
    }

    def __init__(self, hparams: FlowHParams, info: DataInfo) -> None:
        super().__init__(hparams, info)
        self.flow = self.zuko_flow(
            info.dim,
            transforms=hparams.transforms,
            hidden_features=(hparams.hidden,) * hparams.depth,
        )
        self.opt = torch.optim.Adam(self.parameters(), lr=hparams.lr)

    @classmethod
    def incompatibility(cls, info: DataInfo) -> str | None:
        if info.kind == "image" and info.value_range != (0.0, 1.0):
            return f"flows model images with pixels in [0, 1], not {info.value_range}"
        if info.kind == "image" and info.levels is None:
            return "flows dequantize images, and this dataset does not say its grey levels"
        return None

    @property
    def images(self) -> bool:
        return self.info.kind == "image"

    def forward_and_logdet(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The whole map from flat (dequantized) data y (B, D) to the base space, and log|det J|
        per row: the logit preprocessing for images, then the flow's transforms."""
        ladj = torch.zeros(len(y), device=y.device)
        if self.images:
            y, ladj = to_logit(y)
        z, flow_ladj = self.flow().transform.call_and_ladj(y)
        return z, ladj + flow_ladj

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        """Base-space points z (B, D) back to flat (dequantized) data."""
        y = self.flow().transform.inv(z)
        return from_logit(y) if self.images else y

    def log_density(self, y: torch.Tensor) -> torch.Tensor:
        """log p(y) per row of flat continuous data y (B, D), in nats."""
        z, ladj = self.forward_and_logdet(y)
        return self.flow().base.log_prob(z) + ladj

    def continuous(
        self, x: torch.Tensor, levels: int | None, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, float]:
        """Flat continuous data of x and the log-volume term: (x, 0) for points, (dequantized
        pixels, -D log levels) for images."""
        flat = flatten(x.to(self.device))
        if levels is None:  # points (incompatibility() refuses images without levels)
            return flat, 0.0
        return dequantize(flat, levels, generator), -flat.shape[1] * math.log(levels)

    def train_step(self, batch: Batch) -> dict[str, float]:
        y, offset = self.continuous(batch.x, self.info.levels)
        loss = -(self.log_density(y) + offset).mean() / self.info.dim
        return {"loss": loss.item(), "grad_norm": descend_clipped(self.opt, loss, self)}

    def log_likelihood(
        self, x: torch.Tensor, levels: int | None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        with inference(self):
            y, offset = self.continuous(x, levels, generator)
            return self.log_density(y) + offset

    def likelihood_kind(self) -> str:
        if self.images:
            return "bound: uniform dequantization, one draw"
        return "exact"

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        with inference(self):
            gen_device = generator.device if generator is not None else self.device
            z = torch.randn(n, self.info.dim, device=gen_device, generator=generator)
            y = self.inverse(z.to(self.device))
            if self.info.levels is not None:
                y = quantize(y, self.info.levels)
            return unflatten(y, self.info)


def descend_clipped(
    opt: torch.optim.Optimizer, loss: torch.Tensor, model: GenerativeModel
) -> float:
    """One Adam step with the gradient norm clipped to GRAD_CLIP first (early flow and PixelCNN
    steps can have huge gradients); returns the norm before clipping."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
    opt.step()
    return float(norm)


@MODELS.register("realnvp")
class RealNvp(Flow):
    description = "RealNVP: affine coupling flow (zuko), exact density; points and flat images"
    zuko_flow = zuko.flows.RealNVP


@MODELS.register("maf")
class Maf(Flow):
    description = "masked autoregressive flow (zuko), exact density; points and small images"
    zuko_flow = zuko.flows.MAF
