"""Small building blocks shared by the models: MLPs, the output head that puts a network's output
into the data's value range, reshaping between data space and flat vectors, and the bits of
bookkeeping every `train_step` / `sample` needs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from bench.data.base import DataInfo

Activation = Callable[[], nn.Module]


def mlp(
    in_dim: int, hidden: int, layers: int, out_dim: int, activation: Activation = nn.ReLU
) -> nn.Sequential:
    """`layers` hidden Linear+activation blocks of width `hidden`, then a bare Linear to `out_dim`
    (no activation on the output: heads and losses decide what it means)."""
    widths = [in_dim] + [hidden] * layers
    blocks: list[nn.Module] = []
    for w_in, w_out in zip(widths[:-1], widths[1:], strict=True):
        blocks += [nn.Linear(w_in, w_out), activation()]
    blocks.append(nn.Linear(widths[-1], out_dim))
    return nn.Sequential(*blocks)


class RangeSquash(nn.Module):
    """Maps real values into (low, high) with a scaled sigmoid."""

    def __init__(self, low: float, high: float) -> None:
        super().__init__()
        self.low, self.high = float(low), float(high)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.low + (self.high - self.low) * torch.sigmoid(x)

    def extra_repr(self) -> str:
        return f"low={self.low}, high={self.high}"


def output_head(info: DataInfo) -> nn.Module:
    """What turns raw network outputs into data-space values: a sigmoid onto the value range for
    bounded data, the identity for unbounded data."""
    return nn.Identity() if info.value_range is None else RangeSquash(*info.value_range)


def flatten(x: torch.Tensor) -> torch.Tensor:
    """(B, *info.shape) -> (B, info.dim)."""
    return x.reshape(len(x), -1)


def unflatten(x: torch.Tensor, info: DataInfo) -> torch.Tensor:
    """(B, info.dim) -> (B, *info.shape)."""
    return x.reshape(len(x), *info.shape)


def grad_norm(module: nn.Module) -> float:
    """Global L2 norm of the gradients currently stored on `module`'s parameters (0.0 if none)."""
    norms = [p.grad.detach().norm() for p in module.parameters() if p.grad is not None]
    return torch.stack(norms).norm().item() if norms else 0.0


def descend(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    """One update of `optimizer`'s parameters on `loss`: gradients cleared (set to None, so
    parameters outside the loss's graph are left alone by the step), backpropagated, applied.
    The gradients stay in place afterwards for `grad_norm`."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def standard_normal(
    n: int, dim: int, device: torch.device, generator: torch.Generator | None = None
) -> torch.Tensor:
    """(n, dim) draws from N(0, I) on `device`. With a generator the draw happens on the
    generator's device and uses nothing else, so the global random stream is left untouched."""
    if generator is None:
        return torch.randn(n, dim, device=device)
    return torch.randn(n, dim, device=generator.device, generator=generator).to(device)


@contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """Stops gradients into `module`'s parameters, e.g. the discriminator during a generator step,
    so one player's update never leaves stale gradients on the other."""
    flags = [p.requires_grad for p in module.parameters()]
    module.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(module.parameters(), flags, strict=True):
            p.requires_grad_(flag)


@contextmanager
def inference(module: nn.Module) -> Iterator[None]:
    """Eval mode and no autograd for the duration; the previous train/eval mode is restored."""
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        module.train(was_training)
