"""The "clip" feature space: torch-fidelity's own "clip-<model>" extractor (its resize to the
model's resolution and CLIP's normalisation), the image embedding CMMD is defined on
(Jayasumana et al. 2024 use ViT-L/14 at 336 px, the default here). The weights, a TorchScript
file as OpenAI publishes it, come from $BENCH_CLIP_WEIGHTS (--weights) or torch-fidelity's cache;
bench never downloads them. The model is $BENCH_CLIP_MODEL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.data.base import DataInfo, DataSplits
from bench.io import file_sha256
from bench.metrics.features.base import FEATURE_SPACES, Extractor, FeatureSpace, batched
from bench.metrics.features.inception import to_uint8_rgb
from bench.metrics.features.pretrained import (
    env_choice,
    hub_checkpoints,
    image_range,
    unloadable,
    weights_path,
)

CLIP_ENV = "BENCH_CLIP_WEIGHTS"
CLIP_MODEL_ENV = "BENCH_CLIP_MODEL"
CLIP_DEFAULT = "vit-l-14-336px"
CLIP_BATCH = 32


def clip_models() -> dict[str, dict[str, str]]:
    """torch-fidelity's CLIP models (without the "clip-" prefix) -> their file metadata."""
    from torch_fidelity.feature_extractor_clip import MODEL_METADATA

    return {name.removeprefix("clip-"): meta for name, meta in MODEL_METADATA.items()}


def clip_source(model: str) -> tuple[Path, str]:
    """torch-fidelity's cache path for `model` and the URL it would download."""
    from torch_fidelity.feature_extractor_clip import MODEL_URLS

    meta = clip_models()[model]
    return hub_checkpoints() / f"clip-{model}-{meta['hash']}.pt", MODEL_URLS[f"clip-{model}"]


def load_clip(model: str, path: Path | str) -> Any:
    """torch-fidelity's CLIP extractor for `model` with the weights in `path`."""
    from torch_fidelity.feature_extractor_clip import FeatureExtractorCLIP

    try:
        return FeatureExtractorCLIP(
            f"clip-{model}", ["clip"], feature_extractor_weights_path=str(path)
        ).eval()
    except Exception as exc:  # a truncated or foreign file: say which, not a traceback
        raise unloadable("clip", Path(path), exc, clip_source(model)[1]) from exc


@FEATURE_SPACES.register("clip")
class ClipSpace(FeatureSpace):
    description = (
        "torch-fidelity's CLIP image embedding (model $BENCH_CLIP_MODEL, default "
        f"{CLIP_DEFAULT}; resized to the model's resolution, CLIP's normalisation); "
        "needs its weights file"
    )

    def fit(self, fingerprint: str, splits: DataSplits, info: DataInfo) -> dict:
        image_range("clip", info, fingerprint)
        model = env_choice(CLIP_MODEL_ENV, CLIP_DEFAULT, list(clip_models()), "clip")
        cached, url = clip_source(model)
        path = weights_path(CLIP_ENV, cached, "clip", url)
        load_clip(model, path)  # refuse here, on the driver, before anything trains
        return {
            "extractor": f"torch-fidelity clip-{model}",
            "weights": str(path),
            "sha256": file_sha256(path),
            "preprocessing": "uint8 RGB, TF1-compatible bilinear resize to the model's "
            "resolution, CLIP mean/std normalisation",
        }

    def extractor(self, state: dict | None, info: DataInfo, device: str) -> Extractor:
        value_range = image_range("clip", info)
        assert state is not None  # fit() always returns the state
        model = state["extractor"].removeprefix("torch-fidelity clip-")
        path = Path(state["weights"])
        if not path.is_file():  # the driver's path may not exist on a remote node
            path = weights_path(CLIP_ENV, clip_source(model)[0], "clip", clip_source(model)[1])
        net = load_clip(model, path).to(device)
        return batched(lambda x: net(to_uint8_rgb(x, value_range)), device, CLIP_BATCH)
