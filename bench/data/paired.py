"""Paired-domain digits for unpaired translation (CycleGAN): domain A is mnist5k, domain B the
same digits under a known transform T. Because T is known exactly, a translator's error against
the true counterpart T(a) can be measured, not only the realism of its outputs.

A sample is one (2, 28, 28) image: channel 0 the A digit, channel 1 its B counterpart. The pairs
exist for measurement only; a model that claims to learn *unpaired* translation must not use
them in training (see CycleGan, which takes its A and B images from different samples)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
from pydantic import Field

from bench.data.base import DATASETS, DataInfo, Dataset, DatasetParams, DataSplits, EvalSpec
from bench.data.digits import Mnist5k

Transform = Callable[[torch.Tensor], torch.Tensor]


def invert(x: torch.Tensor) -> torch.Tensor:
    """Colour inversion 1 - x on [0, 1] images: every pixel changes, the shape stays."""
    return 1.0 - x


def rotate90(x: torch.Tensor) -> torch.Tensor:
    """Rotation by 90° counter-clockwise of (..., H, W) images: a spatial rearrangement that a
    local (convolutional) translator must learn globally."""
    return torch.rot90(x, k=1, dims=(-2, -1))


# The known A -> B maps, by the name a suite gives as the `transform` parameter. Module-level
# functions, so DataInfo (which names one) and everything holding a transform still pickle.
TRANSFORMS: dict[str, Transform] = {"invert": invert, "rotate90": rotate90}


def domain_a(x: torch.Tensor) -> torch.Tensor:
    """The A images (N, 1, H, W) of paired samples (N, 2, H, W)."""
    return x[:, 0:1]


def domain_b(x: torch.Tensor) -> torch.Tensor:
    """The B images (N, 1, H, W) of paired samples (N, 2, H, W)."""
    return x[:, 1:2]


def pair(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """A and B images (N, 1, H, W) -> paired samples (N, 2, H, W)."""
    return torch.cat([a, b], dim=1)


class PairedParams(DatasetParams):
    transform: Literal["invert", "rotate90"] = Field(
        "invert", description="the known map from domain A (digits) to domain B"
    )


@DATASETS.register("mnist_pairs")
class MnistPairs(Dataset):
    description = (
        "mnist5k digits (domain A) paired with their known transform (B: invert or rotate90), "
        "28x28, 2 channels = (A, B)"
    )
    Params = PairedParams
    params: PairedParams

    @property
    def info(self) -> DataInfo:
        return DataInfo(
            shape=(2, 28, 28),
            kind="image",
            value_range=(0.0, 1.0),
            num_classes=10,
            pairing=self.params.transform,
        )

    @property
    def eval_spec(self) -> EvalSpec:
        # Measured in domain B only: realism of translations in the target domain.
        return EvalSpec(feature_space="paired_target", num_modes=10)

    def load(self) -> DataSplits:
        p = self.params
        digits = Mnist5k(Mnist5k.Params(heldout_fraction=p.heldout_fraction, data_seed=p.data_seed))
        base = digits.load()  # the same split as mnist5k with these params
        t = TRANSFORMS[p.transform]
        return DataSplits(
            train=pair(base.train, t(base.train)).contiguous(),
            heldout=pair(base.heldout, t(base.heldout)).contiguous(),
            train_labels=base.train_labels,
            heldout_labels=base.heldout_labels,
        )
