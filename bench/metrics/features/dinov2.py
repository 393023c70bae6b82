"""The "dinov2" feature space: torch-fidelity's own "dinov2-<model>" extractor (its resize to
224 px and ImageNet normalisation), the space of FD_DINOv2 (Stein et al. 2023 recommend
ViT-L/14, the default here; the model is $BENCH_DINOV2_MODEL).

torch-fidelity 0.4.0 takes no weights file for DINOv2 (it raises NotImplementedError): it loads
the network through torch hub, from the facebookresearch/dinov2 code and its checkpoint. So the
weights "path" is a torch hub directory holding both, $BENCH_DINOV2_WEIGHTS (--weights) or torch
hub's own; with both present torch hub needs no network. bench never downloads them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from bench.data.base import DataInfo, DataSplits
from bench.errors import BenchError
from bench.io import file_sha256
from bench.metrics.features.base import FEATURE_SPACES, Extractor, FeatureSpace, batched
from bench.metrics.features.inception import to_uint8_rgb
from bench.metrics.features.pretrained import env_choice, image_range, unloadable, weights_path

DINOV2_ENV = "BENCH_DINOV2_WEIGHTS"
DINOV2_MODEL_ENV = "BENCH_DINOV2_MODEL"
DINOV2_DEFAULT = "vit-l-14"
DINOV2_REPO = "facebookresearch_dinov2_main"  # torch hub's folder of the dinov2 code
DINOV2_URL = "https://dl.fbaipublicfiles.com/dinov2"
DINOV2_BATCH = 32


def dinov2_models() -> dict[str, str]:
    """torch-fidelity's DINOv2 models (without "dinov2-") -> their torch hub entry points."""
    from torch_fidelity.feature_extractor_dinov2 import MODEL_METADATA

    return {name.removeprefix("dinov2-"): entry for name, entry in MODEL_METADATA.items()}


def checkpoint_name(model: str) -> str:
    """The checkpoint's file name, as torch hub caches the dinov2 download."""
    return f"{dinov2_models()[model]}_pretrain.pth"


def dinov2_source(model: str) -> str:
    entry = dinov2_models()[model]
    return (
        f"the github.com/facebookresearch/dinov2 code (as {DINOV2_REPO}/) and "
        f"{DINOV2_URL}/{entry}/{checkpoint_name(model)} (as checkpoints/) in a torch hub directory"
    )


def hub_dir() -> Path:
    """The hub directory: $BENCH_DINOV2_WEIGHTS or torch hub's own, when it exists."""
    return weights_path(DINOV2_ENV, Path(torch.hub.get_dir()), "dinov2", "a torch hub directory")


def dinov2_files(hub: Path, model: str) -> tuple[Path, Path]:
    """The code's hubconf.py and the checkpoint under `hub`; a BenchError naming what is missing."""
    files = (hub / DINOV2_REPO / "hubconf.py", hub / "checkpoints" / checkpoint_name(model))
    for path in files:
        if not path.is_file():
            raise BenchError(
                f"the 'dinov2' feature space needs {path.name}, which is not in the torch hub "
                f"directory {hub} (bench does not download weights)",
                where=str(path),
                fix=f"put {dinov2_source(model)}, and pass --weights DIR "
                f"(environment variable {DINOV2_ENV}) unless it is {torch.hub.get_dir()}",
            )
    return files


@contextmanager
def hub_at(hub: Path) -> Iterator[None]:
    """torch hub reading from `hub` for the duration."""
    before = torch.hub.get_dir()
    torch.hub.set_dir(str(hub))
    try:
        yield
    finally:
        torch.hub.set_dir(before)


def load_dinov2(model: str, hub: Path) -> Any:
    """torch-fidelity's DINOv2 extractor for `model`, loaded through torch hub from `hub`."""
    from torch_fidelity.feature_extractor_dinov2 import FeatureExtractorDinoV2

    dinov2_files(hub, model)
    try:
        with hub_at(hub):
            return FeatureExtractorDinoV2(f"dinov2-{model}", ["dinov2"])
    except Exception as exc:  # foreign code or a truncated checkpoint: say which
        raise unloadable("dinov2", hub, exc, dinov2_source(model)) from exc


@FEATURE_SPACES.register("dinov2")
class Dinov2Space(FeatureSpace):
    description = (
        "torch-fidelity's DINOv2 embedding (model $BENCH_DINOV2_MODEL, default "
        f"{DINOV2_DEFAULT}; resized to 224 px, ImageNet normalisation); needs the torch hub "
        "code and checkpoint"
    )

    def fit(self, fingerprint: str, splits: DataSplits, info: DataInfo) -> dict:
        image_range("dinov2", info, fingerprint)
        model = env_choice(DINOV2_MODEL_ENV, DINOV2_DEFAULT, list(dinov2_models()), "dinov2")
        hub = hub_dir()
        load_dinov2(model, hub)  # refuse here, on the driver, before anything trains
        hubconf, checkpoint = dinov2_files(hub, model)
        return {
            "extractor": f"torch-fidelity dinov2-{model}",
            "weights": str(hub),
            "sha256": file_sha256(checkpoint),
            "code_sha256": file_sha256(hubconf),
            "preprocessing": "uint8 RGB, TF1-compatible bilinear resize to 224x224, "
            "ImageNet mean/std normalisation",
        }

    def extractor(self, state: dict | None, info: DataInfo, device: str) -> Extractor:
        value_range = image_range("dinov2", info)
        assert state is not None  # fit() always returns the state
        model = state["extractor"].removeprefix("torch-fidelity dinov2-")
        hub = Path(state["weights"])
        if not hub.is_dir():  # the driver's path may not exist on a remote node
            hub = hub_dir()
        net = load_dinov2(model, hub).to(device)
        return batched(lambda x: net(to_uint8_rgb(x, value_range)), device, DINOV2_BATCH)
