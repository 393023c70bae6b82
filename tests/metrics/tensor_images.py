"""What torch-fidelity reads in the tests that compare bench with it: one image tensor per item."""

from __future__ import annotations

import torch


class TensorImages(torch.utils.data.Dataset):
    """A torch-fidelity input: one (C, H, W) tensor per item (uint8 or float, as given)."""

    def __init__(self, images: torch.Tensor) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.images[i]
