"""Feature spaces: where samples are compared, one module each (base: the contract and the
`FEATURE_SPACES` registry; raw; classifier: the domain classifier, its training and on-disk
cache, and its torch-fidelity registration; stacked; paired; inception). Importing the package
registers every space; the names below are what `bench.metrics.features` has always exported.

None of these modules imports torch-fidelity (and so torchvision or scipy) when imported: the
Inception network, `INCEPTION_URL` / `INCEPTION_FILE` and the "bench-classifier" extractor
class (`FidelityClassifier`) load it on first use."""

from __future__ import annotations

from typing import Any

from bench.metrics.features.base import (
    EXTRACT_BATCH,
    FEATURE_SPACES,
    Extractor,
    FeatureSpace,
    batched,
    with_modes,
)
from bench.metrics.features.classifier import (
    CLASSIFIER_VERSION,
    FIDELITY_NAME,
    ClassifierNet,
    ClassifierSpace,
    DigitChannelsSpace,
    accuracy,
    build_classifier,
    calibrate_feature_scale,
    classifier_weights_path,
    fidelity_classifier,
    load_classifier_state,
    register_with_torch_fidelity,
    train_classifier,
)
from bench.metrics.features.inception import (
    INCEPTION_BATCH,
    INCEPTION_ENV,
    INCEPTION_LAYERS,
    LAZY,
    InceptionSpace,
    inception_file,
    inception_url,
    inception_weights_path,
    load_inception,
    to_uint8_rgb,
    torch_hub_checkpoints,
)
from bench.metrics.features.paired import PairedTargetSpace
from bench.metrics.features.raw import RawSpace
from bench.metrics.features.stacked import (
    StackedClassifierSpace,
    joint_log_probs,
    mnist5k_classifier,
)


def __getattr__(name: str) -> Any:
    """The names that need torch-fidelity, loaded on first use: INCEPTION_URL, INCEPTION_FILE
    and FidelityClassifier."""
    if name == "FidelityClassifier":
        return fidelity_classifier()
    if name in LAZY:
        return LAZY[name]()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CLASSIFIER_VERSION",
    "EXTRACT_BATCH",
    "FEATURE_SPACES",
    "FIDELITY_NAME",
    "INCEPTION_BATCH",
    "INCEPTION_ENV",
    "INCEPTION_FILE",
    "INCEPTION_LAYERS",
    "INCEPTION_URL",
    "ClassifierNet",
    "ClassifierSpace",
    "DigitChannelsSpace",
    "Extractor",
    "FeatureSpace",
    "FidelityClassifier",
    "InceptionSpace",
    "PairedTargetSpace",
    "RawSpace",
    "StackedClassifierSpace",
    "accuracy",
    "batched",
    "build_classifier",
    "calibrate_feature_scale",
    "classifier_weights_path",
    "fidelity_classifier",
    "inception_file",
    "inception_url",
    "inception_weights_path",
    "joint_log_probs",
    "load_classifier_state",
    "load_inception",
    "mnist5k_classifier",
    "register_with_torch_fidelity",
    "to_uint8_rgb",
    "torch_hub_checkpoints",
    "train_classifier",
    "with_modes",
]
