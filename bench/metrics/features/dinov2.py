"""The DINOv2 feature spaces, one per torch-fidelity model ("dinov2-vit-s-14", …; "dinov2" is
ViT-L/14, the model Stein et al. 2023 recommend for FD_DINOv2): torch-fidelity's own extractor,
with its resize to 224 px and ImageNet normalisation.

torch-fidelity 0.4.0 takes no weights file for DINOv2 (it raises NotImplementedError): it loads
the network through torch hub, from the facebookresearch/dinov2 code and its checkpoint. So the
weights "path" is a torch hub directory holding both, $BENCH_DINOV2_WEIGHTS (--dinov2-weights)
or torch hub's own; with both present torch hub needs no network. bench never downloads them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from bench.errors import BenchError
from bench.io import file_sha256
from bench.metrics.features.pretrained import (
    PretrainedSpace,
    register_models,
    unloadable,
    weights_path,
)

DINOV2_ENV = "BENCH_DINOV2_WEIGHTS"  # set by the CLI's --dinov2-weights
DINOV2_OPTION = "--dinov2-weights"
# torch-fidelity 0.4.0's DINOv2 models -> their torch hub entry points, written here so that
# registering them imports nothing (tests check them against its MODEL_METADATA).
DINOV2_MODELS = {
    "dinov2-vit-s-14": "dinov2_vits14",
    "dinov2-vit-b-14": "dinov2_vitb14",
    "dinov2-vit-l-14": "dinov2_vitl14",
    "dinov2-vit-g-14": "dinov2_vitg14",
}
DINOV2_ALIASES = {"dinov2": ("dinov2-vit-l-14", "Stein et al. 2023's recommendation")}
DINOV2_REPO = "facebookresearch_dinov2_main"  # torch hub's folder of the dinov2 code
DINOV2_URL = "https://dl.fbaipublicfiles.com/dinov2"
DINOV2_BATCH = 32


def checkpoint_name(model: str) -> str:
    """The checkpoint's file name, as torch hub caches the dinov2 download."""
    return f"{DINOV2_MODELS[model]}_pretrain.pth"


def dinov2_source(model: str) -> str:
    entry = DINOV2_MODELS[model]
    return (
        f"the github.com/facebookresearch/dinov2 code (as {DINOV2_REPO}/) and "
        f"{DINOV2_URL}/{entry}/{checkpoint_name(model)} (as checkpoints/) in a torch hub directory"
    )


def hub_dir(space: str, model: str) -> Path:
    """The hub directory: $BENCH_DINOV2_WEIGHTS (an error when it names nothing), else torch
    hub's own (`dinov2_files` says what it lacks)."""
    cached = Path(torch.hub.get_dir())
    if not os.environ.get(DINOV2_ENV):
        return cached
    return weights_path(DINOV2_ENV, DINOV2_OPTION, cached, space, dinov2_source(model))


def dinov2_files(hub: Path, model: str, space: str = "dinov2") -> tuple[Path, Path]:
    """The code's hubconf.py and the checkpoint under `hub`; a BenchError naming what is missing."""
    files = (hub / DINOV2_REPO / "hubconf.py", hub / "checkpoints" / checkpoint_name(model))
    for path in files:
        if not path.is_file():
            raise BenchError(
                f"the {space!r} feature space needs {path.name}, which is not in the torch hub "
                f"directory {hub} (bench does not download weights)",
                where=str(path),
                fix=f"put {dinov2_source(model)}, and pass {DINOV2_OPTION} DIR "
                f"(environment variable {DINOV2_ENV}) unless it is {torch.hub.get_dir()}",
            )
    return files


@contextmanager
def hub_at(hub: Path) -> Iterator[None]:
    """torch hub reading from `hub` for the duration, then as it was: unset stays unset (so
    $TORCH_HOME is read again), not pinned to the path it resolved to."""
    before = torch.hub._hub_dir  # None unless set_dir was called: get_dir() would resolve it
    torch.hub.set_dir(str(hub))
    try:
        yield
    finally:
        torch.hub._hub_dir = before


def load_dinov2(model: str, hub: Path, space: str = "dinov2") -> Any:
    """torch-fidelity's DINOv2 extractor for `model`, loaded through torch hub from `hub`."""
    from torch_fidelity.feature_extractor_dinov2 import FeatureExtractorDinoV2

    hubconf, checkpoint = dinov2_files(hub, model, space)
    try:
        with hub_at(hub):
            return FeatureExtractorDinoV2(model, ["dinov2"])
    except Exception as exc:  # foreign code or a truncated checkpoint: say which
        files = f"{hub} ({hubconf.relative_to(hub)}, {checkpoint.relative_to(hub)})"
        raise unloadable(space, files, exc, dinov2_source(model)) from exc


class Dinov2Space(PretrainedSpace):
    preprocessing = (
        "uint8 RGB, TF1-compatible bilinear resize to 224x224, ImageNet mean/std normalisation"
    )
    batch = DINOV2_BATCH

    def weights(self) -> Path:
        return hub_dir(self.name, self.model)

    def load(self, path: Path) -> Any:
        return load_dinov2(self.model, path, self.name)

    def hashes(self, path: Path) -> dict[str, str]:
        hubconf, checkpoint = dinov2_files(path, self.model, self.name)
        return {"sha256": file_sha256(checkpoint), "code_sha256": file_sha256(hubconf)}


register_models(
    Dinov2Space,
    list(DINOV2_MODELS),
    DINOV2_ALIASES,
    "torch-fidelity's DINOv2 embedding (resized to 224 px, ImageNet normalisation); needs the "
    f"dinov2 code and checkpoint in a torch hub directory ({DINOV2_OPTION})",
)
