"""Feature spaces: where samples are compared. A dataset names one in `EvalSpec.feature_space`.

`fit` runs once per dataset in the driver and returns a small picklable state that Ray ships to
trials; `extractor` turns that state into a function from data-space samples to `Features`. The
domain classifier is also registered with torch-fidelity as "bench-classifier", built from the
same `ClassifierNet`, so torch-fidelity's FID/KID/IS and ours measure in the same space. The
"inception" space is torch-fidelity's own "inception-v3-compat" network, whose weights are never
downloaded by bench: they must already be on disk (see `inception_weights_path`)."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlparse

import torch
import torch_fidelity
from torch import nn
from torch.nn import functional as F
from torch_fidelity.feature_extractor_inceptionv3 import (
    URL_INCEPTION_V3,
    FeatureExtractorInceptionV3,
)
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

from bench.data.base import DataInfo, DataSplits
from bench.errors import BenchError
from bench.io import cache_dir, file_sha256, write_with
from bench.metrics.base import Features
from bench.registry import Registry

Extractor = Callable[[torch.Tensor], Features]
EXTRACT_BATCH = 512
CLASSIFIER_VERSION = 2  # bump when the network or its training changes: old caches are ignored
FIDELITY_NAME = "bench-classifier"


class FeatureSpace:
    """Base class of registered feature spaces. Register an instance in `FEATURE_SPACES`."""

    description: ClassVar[str] = ""
    gives_logits: ClassVar[bool] = False  # extractor fills Features.logits (Inception Score)
    gives_modes: ClassVar[bool] = False  # extractor fills Features.modes (class mode coverage)

    def fit(self, fingerprint: str, splits: DataSplits, info: DataInfo) -> dict | None:
        """Prepare the space for one dataset (once, in the driver); a small picklable state."""
        return None

    def extractor(self, state: dict | None, info: DataInfo, device: str) -> Extractor:
        raise NotImplementedError


FEATURE_SPACES: Registry[FeatureSpace] = Registry("feature space", FeatureSpace, instances=True)


def batched(
    fn: Callable[[torch.Tensor], tuple[torch.Tensor, ...]],
    device: str | torch.device,
    batch: int = EXTRACT_BATCH,
) -> Extractor:
    """Run `fn` on slices of `batch` rows under no_grad; float64 results on the CPU."""

    def extract(x: torch.Tensor) -> Features:
        parts: list[tuple[torch.Tensor, ...]] = []
        with torch.no_grad():
            for chunk in torch.split(x, batch):
                parts.append(tuple(t.cpu().double() for t in fn(chunk.to(device))))
        if not parts:
            raise ValueError("no samples to extract features from")
        outs = [torch.cat(column) for column in zip(*parts, strict=True)]
        return Features(features=outs[0], logits=outs[1] if len(outs) > 1 else None)

    return extract


def with_modes(extract: Extractor) -> Extractor:
    """`extract`, with Features.modes set to the most likely class of each sample."""

    def extract_with_modes(x: torch.Tensor) -> Features:
        out = extract(x)
        assert out.logits is not None  # only wrapped around classifier extractors
        out.modes = out.logits.argmax(dim=1)
        return out

    return extract_with_modes


@FEATURE_SPACES.register("raw")
class RawSpace(FeatureSpace):
    description = "flattened data-space coordinates (for low-dimensional data such as 2-D mixtures)"

    def extractor(self, state: dict | None, info: DataInfo, device: str) -> Extractor:
        return batched(lambda x: (x.reshape(len(x), -1),), device)


# ---------------------------------------------------------------- the domain classifier


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
        if path.exists():
            return load_classifier_state(path)
        state = self.train(splits, info, fingerprint)
        write_with(path, lambda handle: torch.save(state, handle))
        return state

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


# ---------------------------------------------------------------- InceptionV3

INCEPTION_ENV = "BENCH_INCEPTION_WEIGHTS"  # set by the CLI's --inception-weights
INCEPTION_URL = URL_INCEPTION_V3  # what torch-fidelity 0.4 would download for inception-v3-compat
INCEPTION_FILE = Path(urlparse(INCEPTION_URL).path).name  # torch hub keeps the URL's file name
INCEPTION_BATCH = 64  # 299×299 activations: 512 images at once would need gigabytes
INCEPTION_LAYERS = ["2048", "logits_unbiased"]  # torch-fidelity's layers for FID/KID/PR and IS


def torch_hub_checkpoints() -> Path:
    """Where torch hub (and so torch-fidelity) caches downloads: $TORCH_HOME/hub/checkpoints,
    $TORCH_HOME defaulting to $XDG_CACHE_HOME/torch or ~/.cache/torch."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def inception_weights_path() -> Path:
    """The InceptionV3 weights file: $BENCH_INCEPTION_WEIGHTS when set, else torch-fidelity's own
    download in the torch hub cache. bench never downloads it. An explicit path that does not
    exist is an error rather than a silent fall-back, so a typo cannot go unnoticed."""
    explicit = os.environ.get(INCEPTION_ENV)
    if explicit:
        path = Path(explicit).expanduser()
        if path.is_file():
            return path
        raise BenchError(
            f"the InceptionV3 weights file {path} does not exist",
            where=f"${INCEPTION_ENV} (--inception-weights)",
            fix=f"point it at a copy of {INCEPTION_FILE}, downloaded from {INCEPTION_URL}",
        )
    cached = torch_hub_checkpoints() / INCEPTION_FILE
    if cached.is_file():
        return cached
    raise BenchError(
        f"the 'inception' feature space needs torch-fidelity's InceptionV3 weights "
        f"{INCEPTION_FILE}, which are not on this machine (bench does not download them)",
        where=str(cached),
        fix=f"download {INCEPTION_URL} on a machine with internet access and put it at {cached} "
        f"(torch-fidelity's cache), or anywhere and pass --inception-weights PATH "
        f"(environment variable {INCEPTION_ENV})",
    )


def load_inception(path: Path | str) -> FeatureExtractorInceptionV3:
    """torch-fidelity's inception-v3-compat network with the weights in `path`, in eval mode."""
    try:
        return FeatureExtractorInceptionV3(
            "inception-v3-compat", INCEPTION_LAYERS, feature_extractor_weights_path=str(path)
        )
    except Exception as exc:  # a truncated or foreign file: say which, not a state-dict dump
        raise BenchError(
            f"cannot load InceptionV3 weights from {path}: {type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}",
            fix=f"replace it with {INCEPTION_FILE} from {INCEPTION_URL}",
        ) from exc


def to_uint8_rgb(x: torch.Tensor, value_range: tuple[float, float]) -> torch.Tensor:
    """Images in `value_range` as the uint8 N×3×H×W tensors torch-fidelity's Inception expects.
    Rounds as torchvision's save_image does (x·255 + 0.5, truncated), so in-memory samples give
    the same pixels as PNG files of them; grey images are repeated to three channels."""
    lo, hi = value_range
    pixels = ((x.float() - lo) / (hi - lo) * 255 + 0.5).clamp(0, 255).to(torch.uint8)
    return pixels.expand(-1, 3, -1, -1) if pixels.shape[1] == 1 else pixels


@FEATURE_SPACES.register("inception")
class InceptionSpace(FeatureSpace):
    description = (
        "torch-fidelity's InceptionV3 (2048-d pool features, logits for IS); needs its weights file"
    )
    gives_logits = True

    def fit(self, fingerprint: str, splits: DataSplits, info: DataInfo) -> dict:
        self.value_range(info, fingerprint)
        path = inception_weights_path()
        load_inception(path)  # fail here, on the driver, rather than in every trial
        # The content hash keys caches of embeddings: another file at the same path is noticed.
        return {"weights": str(path), "sha256": file_sha256(path)}

    def value_range(self, info: DataInfo, where: str | None = None) -> tuple[float, float]:
        """The images' value range, or a BenchError when the data is not grey/RGB images."""
        if info.kind != "image" or len(info.shape) != 3 or info.shape[0] not in (1, 3):
            raise BenchError(
                f"the 'inception' feature space needs grey or RGB images, not {info.shape}",
                where=where,
                fix="use the 'raw' feature space for point data",
            )
        if info.value_range is None:
            raise BenchError(
                "the 'inception' feature space needs images with a known value range",
                where=where,
                fix="give the dataset a value_range (e.g. (0, 1)) so pixels map to 0..255",
            )
        return info.value_range

    def extractor(self, state: dict | None, info: DataInfo, device: str) -> Extractor:
        value_range = self.value_range(info)
        # The driver's path may not exist on a remote node: resolve again there if needed.
        path = Path(state["weights"]) if state else None
        if path is None or not path.is_file():
            path = inception_weights_path()
        net = load_inception(path).to(device)
        return batched(lambda x: net(to_uint8_rgb(x, value_range)), device, INCEPTION_BATCH)


# ---------------------------------------------------------------- torch-fidelity adapter


class FidelityClassifier(torch_fidelity.FeatureExtractorBase):
    """The domain classifier as a torch-fidelity extractor. Pass the file written by
    `ClassifierSpace.fit` as `feature_extractor_weights_path`; inputs are float (N, C, H, W)
    tensors in the data's value range, outputs float64 like our own extractor."""

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


if FIDELITY_NAME not in FEATURE_EXTRACTORS_REGISTRY:  # a re-import must not register twice
    torch_fidelity.register_feature_extractor(FIDELITY_NAME, FidelityClassifier)


# ---------------------------------------------------------------- stacked MNIST and paired digits


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


@FEATURE_SPACES.register("stacked_classifier")
class StackedClassifierSpace(DigitChannelsSpace):
    """Stacked MNIST measured digit by digit: the mnist5k classifier runs on each channel alone.
    Features are the three channels' feature vectors side by side (3 × 128); logits are the
    1,000-way log-probabilities of the digit triples (the sum of the per-channel log-softmaxes,
    so the Inception Score is defined and counts triples); the mode of a sample is the triple of
    per-channel argmaxes, index 100·a + 10·b + c as in the dataset's labels."""

    description = "the mnist5k digit classifier on each channel: 3×128 features, 1,000 triple modes"
    name = "stacked_classifier"

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


@FEATURE_SPACES.register("paired_target")
class PairedTargetSpace(DigitChannelsSpace):
    """Paired-domain data (bench.data.paired) measured in the target domain B only, channel 1.
    The classifier is trained on the B images themselves (with the digit labels), once per
    transform and cached: a classifier of upright, dark-background digits would embed inverted or
    rotated ones poorly, and FID in such a space would say little about them. Modes are the
    predicted digit classes."""

    description = "a digit classifier trained on domain B of paired data, applied to channel 1"
    name = "paired_target"

    def fit(self, fingerprint: str, splits: DataSplits, info: DataInfo) -> dict:
        from dataclasses import replace

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
