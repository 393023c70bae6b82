"""Stacked MNIST (Metz et al. 2017; Lin et al. 2018, PacGAN): three MNIST digits stacked as the
R, G and B channels of one image, so the data has 10 × 10 × 10 = 1,000 modes, one per digit
triple. The standard benchmark of mode collapse on images: a generator that covers few triples
is collapsed however sharp its digits are. Built from `mnist5k`, so it loads offline."""

from __future__ import annotations

import torch
from pydantic import Field

from bench.data.base import DATASETS, DataInfo, Dataset, DatasetParams, DataSplits, EvalSpec
from bench.data.digits import Mnist5k

DIGITS = 3  # channels, one digit each
NUM_MODES = 10**DIGITS


class StackedParams(DatasetParams):
    n_samples: int = Field(
        10_000,
        ge=10,
        description="stacked images built, before the held-out split (float32: ~9.4 MB per 1,000)",
    )


def triple_index(digits: torch.Tensor) -> torch.Tensor:
    """(N, 3) digit labels -> (N,) mode index 100·a + 10·b + c (channel 0 is the hundreds)."""
    weights = torch.tensor([10 ** (DIGITS - 1 - k) for k in range(DIGITS)], dtype=torch.long)
    return (digits.long() * weights).sum(dim=1)


def stack(
    images: torch.Tensor, labels: torch.Tensor, n: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """n images, each three digits drawn uniformly (with replacement) from `images` (M, 1, H, W)
    and stacked as channels, with their triple index."""
    idx = torch.randint(len(images), (n, DIGITS), generator=gen)
    x = images[idx].squeeze(2)  # (n, 3, 1, H, W) -> (n, 3, H, W)
    return x.contiguous(), triple_index(labels[idx])


@DATASETS.register("stacked_mnist")
class StackedMnist(Dataset):
    description = "three mnist5k digits stacked as RGB channels, 28x28, 1,000 modes (digit triples)"
    Params = StackedParams
    params: StackedParams

    @property
    def info(self) -> DataInfo:
        return DataInfo(
            shape=(DIGITS, 28, 28), kind="image", value_range=(0.0, 1.0), num_classes=NUM_MODES
        )

    @property
    def eval_spec(self) -> EvalSpec:
        return EvalSpec(feature_space="stacked_classifier", num_modes=NUM_MODES)

    def load(self) -> DataSplits:
        """Training images are stacked from mnist5k's training split only and held-out images
        from its held-out split only (split with this dataset's seed and held-out share), so no
        digit image of the held-out split is ever seen in training."""
        p = self.params
        digits = Mnist5k(Mnist5k.Params(heldout_fraction=p.heldout_fraction, data_seed=p.data_seed))
        base = digits.load()
        assert base.train_labels is not None and base.heldout_labels is not None  # labelled
        n_held = min(max(1, int(round(p.n_samples * p.heldout_fraction))), p.n_samples - 1)
        gen = torch.Generator().manual_seed(p.data_seed)
        train, train_labels = stack(base.train, base.train_labels, p.n_samples - n_held, gen)
        held, held_labels = stack(base.heldout, base.heldout_labels, n_held, gen)
        return DataSplits(train, held, train_labels, held_labels)
