"""The "paired_target" feature space: paired-domain data measured in its target domain B, with a
digit classifier trained on the B images themselves."""

from __future__ import annotations

from dataclasses import replace

import torch

from bench.data.base import DataInfo, DataSplits
from bench.errors import BenchError
from bench.metrics.features.base import FEATURE_SPACES
from bench.metrics.features.classifier import ClassifierNet, DigitChannelsSpace


@FEATURE_SPACES.register("paired_target")
class PairedTargetSpace(DigitChannelsSpace):
    """Paired-domain data (bench.data.paired) measured in the target domain B only, channel 1.
    The classifier is trained on the B images themselves (with the digit labels), once per
    transform and cached: a classifier of upright, dark-background digits would embed inverted or
    rotated ones poorly, and FID in such a space would say little about them. Modes are the
    predicted digit classes."""

    description = "a digit classifier trained on domain B of paired data, applied to channel 1"
    name = "paired_target"

    def applies(self, info: DataInfo) -> str | None:
        if info.pairing is None:
            return "the 'paired_target' feature space needs paired-domain data (DataInfo.pairing)"
        return None

    def fit(self, fingerprint: str, splits: DataSplits, info: DataInfo) -> dict:
        if info.pairing is None:
            raise BenchError(
                "the 'paired_target' feature space needs paired-domain data (DataInfo.pairing)",
                where=fingerprint,
                fix="use it for paired datasets such as mnist_pairs only",
            )
        target = DataSplits(
            train=splits.train[:, 1:2],
            heldout=splits.heldout[:, 1:2],
            train_labels=splits.train_labels,
            heldout_labels=splits.heldout_labels,
        )
        target_info = replace(info, shape=(1, *info.shape[1:]), pairing=None)
        return self.digits.fit(f"{fingerprint}-target", target, target_info)

    def measure(self, net: ClassifierNet, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # Channel 1 holds the domain-B image of a paired sample.
        return net.features_and_logits(x[:, 1:2].float())
