"""The "stacked_classifier" feature space: Stacked MNIST measured digit by digit with the mnist5k
digit classifier (the very network, and cache file, that measures mnist5k itself)."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from bench.data.base import DataInfo, DataSplits
from bench.errors import BenchError
from bench.metrics.features.base import FEATURE_SPACES
from bench.metrics.features.classifier import ClassifierNet, ClassifierSpace, DigitChannelsSpace


def mnist5k_classifier(space: ClassifierSpace) -> dict:
    """The digit classifier of the default `mnist5k` dataset, fitted by `space` or read from its
    cache: the very network (and cache file) that measures mnist5k itself."""
    from bench.data.digits import Mnist5k  # the data package never imports metrics: no cycle

    digits = Mnist5k()
    return space.fit(digits.fingerprint("mnist5k"), digits.load(), digits.info)


def joint_log_probs(logp: torch.Tensor) -> torch.Tensor:
    """Per-channel class log-probabilities (N, C, K) -> log-probabilities of the K**C class
    tuples (N, K**C), channels taken as independent; tuple (a, b, c) sits at a·K² + b·K + c."""
    joint = logp[:, 0]
    for channel in range(1, logp.shape[1]):
        joint = (joint[:, :, None] + logp[:, channel, None, :]).reshape(len(logp), -1)
    return joint


@FEATURE_SPACES.register("stacked_classifier")
class StackedClassifierSpace(DigitChannelsSpace):
    """Stacked MNIST measured digit by digit: the mnist5k classifier runs on each channel alone.
    Features are the three channels' feature vectors side by side (3 × 128); logits are the
    1,000-way log-probabilities of the digit triples (the sum of the per-channel log-softmaxes,
    so the Inception Score is defined and counts triples); the mode of a sample is the triple of
    per-channel argmaxes, index 100·a + 10·b + c as in the dataset's labels."""

    description = "the mnist5k digit classifier on each channel: 3×128 features, 1,000 triple modes"
    name = "stacked_classifier"

    def applies(self, info: DataInfo) -> str | None:
        if info.kind != "image" or info.shape[1:] != (28, 28):
            shape = info.shape
            return f"the 'stacked_classifier' space reads 28×28 digit channels, not {shape}"
        return None

    def fit(self, fingerprint: str, splits: DataSplits, info: DataInfo) -> dict:
        if info.kind != "image" or info.shape[1:] != (28, 28):
            raise BenchError(
                f"the 'stacked_classifier' space reads 28×28 digit channels, not {info.shape}",
                where=fingerprint,
                fix="use it for stacked_mnist only; other datasets name their own feature space",
            )
        return mnist5k_classifier(self.digits)

    def measure(self, net: ClassifierNet, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # Each channel on its own through the network, then put back side by side.
        n, c = x.shape[:2]
        feats, logits = net.features_and_logits(x.float().reshape(n * c, 1, *x.shape[2:]))
        logp = F.log_softmax(logits.double(), dim=1).reshape(n, c, -1)
        return feats.reshape(n, -1), joint_log_probs(logp)
