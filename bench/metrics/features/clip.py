"""The CLIP feature spaces, one per torch-fidelity model ("clip-rn50", …, "clip-vit-l-14-336px";
"clip" is ViT-L/14 at 336 px, the image embedding Jayasumana et al. 2024 define CMMD on):
torch-fidelity's own extractor, with its resize to the model's resolution and CLIP's
normalisation. The weights, a TorchScript file as OpenAI publishes it, come from
$BENCH_CLIP_WEIGHTS (--clip-weights) or torch-fidelity's cache; bench never downloads them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.io import file_sha256
from bench.metrics.features.pretrained import (
    PretrainedSpace,
    hub_checkpoints,
    register_models,
    unloadable,
    weights_path,
)

CLIP_ENV = "BENCH_CLIP_WEIGHTS"  # set by the CLI's --clip-weights
CLIP_OPTION = "--clip-weights"
# torch-fidelity 0.4.0's CLIP models, written here so that registering them imports nothing
# (tests check them against its MODEL_METADATA).
CLIP_MODELS = [
    "clip-rn50",
    "clip-rn101",
    "clip-rn50x4",
    "clip-rn50x16",
    "clip-rn50x64",
    "clip-vit-b-32",
    "clip-vit-b-16",
    "clip-vit-l-14",
    "clip-vit-l-14-336px",
]
CLIP_ALIASES = {"clip": ("clip-vit-l-14-336px", "the model CMMD is defined on")}
CLIP_BATCH = 32


def clip_source(model: str) -> tuple[Path, str]:
    """torch-fidelity's cache path for `model` and the URL it would download."""
    from torch_fidelity.feature_extractor_clip import MODEL_METADATA, MODEL_URLS

    return hub_checkpoints() / f"{model}-{MODEL_METADATA[model]['hash']}.pt", MODEL_URLS[model]


def clip_weights(space: str, model: str) -> Path:
    """$BENCH_CLIP_WEIGHTS, else torch-fidelity's download, when it exists."""
    cached, url = clip_source(model)
    return weights_path(CLIP_ENV, CLIP_OPTION, cached, space, url)


def load_clip(model: str, path: Path | str, space: str = "clip") -> Any:
    """torch-fidelity's CLIP extractor for `model` with the weights in `path`."""
    from torch_fidelity.feature_extractor_clip import FeatureExtractorCLIP

    try:
        return FeatureExtractorCLIP(
            model, ["clip"], feature_extractor_weights_path=str(path)
        ).eval()
    except Exception as exc:  # a truncated or foreign file: say which, not a traceback
        raise unloadable(space, Path(path), exc, clip_source(model)[1]) from exc


class ClipSpace(PretrainedSpace):
    preprocessing = (
        "uint8 RGB, TF1-compatible bilinear resize to the model's resolution, CLIP mean/std "
        "normalisation"
    )
    batch = CLIP_BATCH

    def weights(self) -> Path:
        return clip_weights(self.name, self.model)

    def load(self, path: Path) -> Any:
        return load_clip(self.model, path, self.name)

    def hashes(self, path: Path) -> dict[str, str]:
        return {"sha256": file_sha256(path)}


register_models(
    ClipSpace,
    CLIP_MODELS,
    CLIP_ALIASES,
    "torch-fidelity's CLIP image embedding (resized to the model's resolution, CLIP's "
    f"normalisation); needs its weights file ({CLIP_OPTION})",
)
