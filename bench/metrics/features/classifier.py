"""The "classifier" feature space: the penultimate layer of a small CNN trained on the dataset's
labels. Training is deterministic given its seed, and the fitted network is cached on disk per
dataset fingerprint (`classifier_weights_path`), so a suite trains it once.

The same network can be registered with torch-fidelity as "bench-classifier"
(`register_with_torch_fidelity`; `ClassifierSpace.fit` does so), so torch-fidelity's FID/KID/IS
and ours measure in the same space. torch-fidelity is imported only then: it pulls torchvision
and scipy in, which importing bench.metrics must not. `DigitChannelsSpace` is the base of the
spaces that run a digit classifier on some channels of each sample (stacked.py, paired.py)."""

from __future__ import annotations

import math
import time
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn
from torch.nn import functional as F

from bench.data.base import DataInfo, DataSplits
from bench.errors import BenchError
from bench.io import cache_dir, write_with
from bench.metrics.features.base import (
    EXTRACT_BATCH,
    FEATURE_SPACES,
    Extractor,
    FeatureSpace,
    batched,
    with_modes,
)

CLASSIFIER_VERSION = 2  # bump when the network or its training changes: old caches are ignored
FIDELITY_NAME = "bench-classifier"


class ClassifierNet(nn.Module):
    """A compact CNN for C×H×W images of any side >= 4: two conv blocks, an adaptive pool to 4×4
    (so 8×8 digits and 28×28 MNIST share one design), a hidden layer and class logits.

    The features are the hidden layer divided by `feature_scale`, a constant set after training so
    that the training split's features have mean squared coordinate 1 (`calibrate_feature_scale`).
    Why: KID's polynomial kernel (x·y/d + 1)^3 is not scale-free; unscaled, the digits features
    have mean x² ≈ 16 and KID against the training split came out at 6 (held-out digits) to 280
    (uniform noise). One scalar keeps the geometry (nearest neighbours, which precision/recall-type
    metrics use, are unchanged; FID is divided by the scale squared) and brings KID to
    Inception-like magnitudes: 0.004 held-out, 0.19 with noise added, 0.24 for uniform noise.
    torch-fidelity's "bench-classifier" uses the same network, so both still agree."""

    def __init__(self, channels: int, num_classes: int, width: int = 32, hidden: int = 128):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, 2 * width, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.hidden = nn.Linear(2 * width * 16, hidden)
        self.head = nn.Linear(hidden, num_classes)
        self.register_buffer("feature_scale", torch.ones((), dtype=torch.float32))

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = F.max_pool2d(F.relu(self.conv1(x)), 2)
        h = self.pool(F.relu(self.conv2(h))).flatten(1)
        # Features are taken before the ReLU: no dead (constant) dimensions, so the covariance
        # that FID takes a square root of stays well conditioned.
        feats = self.hidden(h)
        return feats / self.feature_scale, self.head(F.relu(feats))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features_and_logits(x)[1]


def calibrate_feature_scale(net: ClassifierNet, x: torch.Tensor) -> float:
    """Set `net.feature_scale` so that the features of `x` have mean squared coordinate 1."""
    net.feature_scale.fill_(1.0)
    with torch.no_grad():
        squares = sum(
            float(net.features_and_logits(xb)[0].double().pow(2).sum())
            for xb in torch.split(x, EXTRACT_BATCH)
        )
    scale = math.sqrt(squares / (len(x) * net.hidden.out_features))
    net.feature_scale.fill_(scale)
    return scale


def build_classifier(state: dict) -> ClassifierNet:
    """The network described by a fitted state, with its trained weights, in eval mode."""
    net = ClassifierNet(**state["arch"])
    net.load_state_dict(state["state_dict"])
    return net.eval().requires_grad_(False)


def classifier_weights_path(fingerprint: str) -> Path:
    """Where the classifier fitted on the dataset with this fingerprint is cached."""
    return cache_dir() / "feature_spaces" / f"{fingerprint}-classifier-v{CLASSIFIER_VERSION}.pt"


def load_classifier_state(path: Path | str) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def accuracy(net: ClassifierNet, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        hits = sum(
            int((net(xb).argmax(1) == yb).sum())
            for xb, yb in zip(
                torch.split(x, EXTRACT_BATCH), torch.split(y, EXTRACT_BATCH), strict=True
            )
        )
    return hits / len(y)


def train_classifier(
    x: torch.Tensor, y: torch.Tensor, arch: dict, *, epochs: int, seed: int, lr: float = 3e-3
) -> ClassifierNet:
    """Adam with a one-cycle learning rate on cross-entropy, batches of 64; deterministic given
    the seed, and the global RNG is left untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = ClassifierNet(**arch)
        gen = torch.Generator().manual_seed(seed)
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        steps = epochs * math.ceil(len(x) / 64)
        schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
        net.train()
        for _ in range(epochs):
            for idx in torch.randperm(len(x), generator=gen).split(64):
                opt.zero_grad(set_to_none=True)
                F.cross_entropy(net(x[idx]), y[idx]).backward()
                opt.step()
                schedule.step()
    return net.eval().requires_grad_(False)


@FEATURE_SPACES.register("classifier")
class ClassifierSpace(FeatureSpace):
    description = "penultimate layer of a small CNN trained on the dataset's labels (cached)"
    gives_logits = True
    gives_modes = True  # the predicted class
    epochs: ClassVar[int] = 10
    seed: ClassVar[int] = 0
    min_heldout_accuracy: ClassVar[float] = 0.8  # below this the space says little about samples

    def fit(self, fingerprint: str, splits: DataSplits, info: DataInfo) -> dict:
        self.check(splits, info, fingerprint)
        path = classifier_weights_path(fingerprint)
        register_with_torch_fidelity()  # torch-fidelity can now read the file as well
        if path.exists():
            return load_classifier_state(path)
        state = self.train(splits, info, fingerprint)
        write_with(path, lambda handle: torch.save(state, handle))
        return state

    def applies(self, info: DataInfo) -> str | None:
        if len(info.shape) != 3 or min(info.shape[1:]) < 4:
            return (
                f"the 'classifier' feature space needs C×H×W images of side >= 4, not {info.shape}"
            )
        if info.num_classes is None:
            return "the 'classifier' feature space needs labels, and this dataset has no labels"
        return None

    def check(self, splits: DataSplits, info: DataInfo, where: str) -> None:
        if info.num_classes is None or splits.train_labels is None or splits.heldout_labels is None:
            raise BenchError(
                "the 'classifier' feature space needs labels, and this dataset has no labels",
                where=where,
                fix="measure this dataset in another feature space (e.g. 'raw') or add labels",
            )
        if len(info.shape) != 3 or min(info.shape[1:]) < 4:
            raise BenchError(
                f"the 'classifier' feature space needs C×H×W images of side >= 4, not {info.shape}",
                where=where,
                fix="use the 'raw' feature space for point data",
            )

    def train(self, splits: DataSplits, info: DataInfo, where: str) -> dict[str, Any]:
        arch = {"channels": info.shape[0], "num_classes": int(info.num_classes or 0)}
        start = time.perf_counter()
        net = train_classifier(
            splits.train.float(), splits.train_labels, arch, epochs=self.epochs, seed=self.seed
        )
        scale = calibrate_feature_scale(net, splits.train.float())
        seconds = time.perf_counter() - start
        acc = accuracy(net, splits.heldout.float(), splits.heldout_labels)
        if acc < self.min_heldout_accuracy:
            raise BenchError(
                f"the domain classifier reached only {acc:.3f} held-out accuracy "
                f"(needs >= {self.min_heldout_accuracy})",
                where=where,
                fix="measure this dataset in another feature space",
            )
        return {
            "arch": arch,
            "state_dict": net.state_dict(),
            "heldout_accuracy": acc,
            "feature_scale": scale,
            "fit_seconds": seconds,
            "version": CLASSIFIER_VERSION,
        }

    def extractor(self, state: dict | None, info: DataInfo, device: str) -> Extractor:
        if state is None:
            raise ValueError("the classifier feature space needs the state returned by fit()")
        net = build_classifier(state).to(device)
        return with_modes(batched(lambda x: net.features_and_logits(x.float()), device))


def register_with_torch_fidelity() -> None:
    """Register the domain classifier with torch-fidelity as "bench-classifier" (once; later
    calls do nothing). Pass it the file `ClassifierSpace.fit` wrote as
    `feature_extractor_weights_path`."""
    import torch_fidelity
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

    if FIDELITY_NAME not in FEATURE_EXTRACTORS_REGISTRY:
        torch_fidelity.register_feature_extractor(FIDELITY_NAME, fidelity_classifier())


@cache
def fidelity_classifier() -> type:
    """The domain classifier as a torch-fidelity extractor class, `FidelityClassifier`. Built on
    first use because its base class is torch-fidelity's, which this module must not import
    when it is imported; cached, so there is only ever one such class."""
    import torch_fidelity

    class FidelityClassifier(torch_fidelity.FeatureExtractorBase):
        """Pass the file written by `ClassifierSpace.fit` as `feature_extractor_weights_path`;
        inputs are float (N, C, H, W) tensors in the data's value range, outputs float64 like
        our own extractor."""

        default_layers: ClassVar[dict[str, str]] = {
            "fid": "features",
            "kid": "features",
            "prc": "features",
            "isc": "logits",
        }

        def __init__(
            self,
            name: str,
            features_list: list[str],
            feature_extractor_weights_path: str | None = None,
            **kwargs: Any,
        ) -> None:
            super().__init__(name, features_list)
            if feature_extractor_weights_path is None:
                raise BenchError(
                    f"torch-fidelity's '{FIDELITY_NAME}' needs the fitted classifier file",
                    fix="pass feature_extractor_weights_path=classifier_weights_path(fingerprint)",
                )
            self.net = build_classifier(load_classifier_state(feature_extractor_weights_path))

        @staticmethod
        def get_provided_features_list() -> tuple[str, ...]:
            return ("features", "logits")

        @staticmethod
        def get_default_feature_layer_for_metric(metric: str) -> str:
            return FidelityClassifier.default_layers[metric]

        @staticmethod
        def can_be_compiled() -> bool:
            return False

        @staticmethod
        def get_dummy_input_for_compile() -> None:
            return None

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
            feats, logits = self.net.features_and_logits(x.float())
            out = {"features": feats.double(), "logits": logits.double()}
            return tuple(out[name] for name in self.features_list)

    return FidelityClassifier


class DigitChannelsSpace(FeatureSpace):
    """Base of the spaces that run a digit classifier (ClassifierSpace's network, fitted by
    `digits`) on some channels of each sample; modes are the most likely classes."""

    gives_logits = True
    gives_modes = True
    name: ClassVar[str]  # the registered name, for error messages

    def __init__(self, digits: ClassifierSpace | None = None) -> None:
        self.digits = digits if digits is not None else ClassifierSpace()

    def measure(self, net: ClassifierNet, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(features, logits) of a batch of samples."""
        raise NotImplementedError

    def extractor(self, state: dict | None, info: DataInfo, device: str) -> Extractor:
        if state is None:
            raise ValueError(f"the {self.name} space needs the state returned by fit()")
        net = build_classifier(state).to(device)
        return with_modes(batched(lambda x: self.measure(net, x), device))
