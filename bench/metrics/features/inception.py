"""The "inception" feature space: torch-fidelity's own "inception-v3-compat" network, whose
weights are never downloaded by bench: they must already be on disk (`inception_weights_path`).
torch-fidelity is imported inside the functions that use it, never when this module is."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import torch

from bench.data.base import DataInfo, DataSplits
from bench.errors import BenchError
from bench.io import file_sha256
from bench.metrics.features.base import FEATURE_SPACES, Extractor, ImageSpace, batched, image_range

if TYPE_CHECKING:
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

INCEPTION_ENV = "BENCH_INCEPTION_WEIGHTS"  # set by the CLI's --inception-weights
INCEPTION_BATCH = 64  # 299×299 activations: 512 images at once would need gigabytes
INCEPTION_LAYERS = ["2048", "logits_unbiased"]  # torch-fidelity's layers for FID/KID/PR and IS


def inception_url() -> str:
    """What torch-fidelity would download for inception-v3-compat (asked of torch-fidelity
    itself, so another version of it is followed)."""
    from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3

    return URL_INCEPTION_V3


def inception_file() -> str:
    """The weights file's name: torch hub keeps the URL's."""
    return Path(urlparse(inception_url()).path).name


LAZY: dict[str, Callable[[], str]] = {
    "INCEPTION_URL": inception_url,
    "INCEPTION_FILE": inception_file,
}


def __getattr__(name: str) -> str:
    """INCEPTION_URL and INCEPTION_FILE, read from torch-fidelity on first use rather than when
    this module is imported (torch-fidelity imports torchvision and scipy)."""
    if name in LAZY:
        return LAZY[name]()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
            fix=f"point it at a copy of {inception_file()}, downloaded from {inception_url()}",
        )
    cached = torch_hub_checkpoints() / inception_file()
    if cached.is_file():
        return cached
    raise BenchError(
        f"the 'inception' feature space needs torch-fidelity's InceptionV3 weights "
        f"{inception_file()}, which are not on this machine (bench does not download them)",
        where=str(cached),
        fix=f"download {inception_url()} on a machine with internet access and put it at {cached} "
        f"(torch-fidelity's cache), or anywhere and pass --inception-weights PATH "
        f"(environment variable {INCEPTION_ENV})",
    )


def load_inception(path: Path | str) -> FeatureExtractorInceptionV3:
    """torch-fidelity's inception-v3-compat network with the weights in `path`, in eval mode."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    try:
        return FeatureExtractorInceptionV3(
            "inception-v3-compat", INCEPTION_LAYERS, feature_extractor_weights_path=str(path)
        )
    except Exception as exc:  # a truncated or foreign file: say which, not a state-dict dump
        raise BenchError(
            f"cannot load InceptionV3 weights from {path}: {type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}",
            fix=f"replace it with {inception_file()} from {inception_url()}",
        ) from exc


def to_uint8_rgb(x: torch.Tensor, value_range: tuple[float, float]) -> torch.Tensor:
    """Images in `value_range` as the uint8 N×3×H×W tensors torch-fidelity's Inception expects.
    Rounds as torchvision's save_image does (x·255 + 0.5, truncated), so in-memory samples give
    the same pixels as PNG files of them; grey images are repeated to three channels."""
    lo, hi = value_range
    pixels = ((x.float() - lo) / (hi - lo) * 255 + 0.5).clamp(0, 255).to(torch.uint8)
    return pixels.expand(-1, 3, -1, -1) if pixels.shape[1] == 1 else pixels


@FEATURE_SPACES.register("inception")
class InceptionSpace(ImageSpace):
    name = "inception"
    description = (
        "torch-fidelity's InceptionV3 (2048-d pool features, logits for IS); needs its weights file"
    )
    gives_logits = True

    def fit(self, fingerprint: str, splits: DataSplits, info: DataInfo) -> dict:
        image_range(self.name, info, fingerprint)
        path = inception_weights_path()
        load_inception(path)  # fail here, on the driver, rather than in every trial
        # The content hash keys caches of embeddings: another file at the same path is noticed.
        return {"weights": str(path), "sha256": file_sha256(path)}

    def extractor(self, state: dict | None, info: DataInfo, device: str) -> Extractor:
        value_range = image_range(self.name, info)
        # The driver's path may not exist on a remote node: resolve again there if needed.
        path = Path(state["weights"]) if state else None
        if path is None or not path.is_file():
            path = inception_weights_path()
        net = load_inception(path).to(device)
        return batched(lambda x: net(to_uint8_rgb(x, value_range)), device, INCEPTION_BATCH)
