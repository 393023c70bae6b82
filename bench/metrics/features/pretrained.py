"""What the pretrained image spaces (dinov2, clip) share: the images they accept, the weights
they read from a path bench never downloads to, and how each model becomes a registered space.
torch-fidelity is imported by the spaces' own modules, inside functions."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

import torch

from bench.data.base import DataInfo, DataSplits
from bench.errors import BenchError
from bench.metrics.features.base import (
    FEATURE_SPACES,
    Extractor,
    FeatureSpace,
    ImageSpace,
    batched,
    image_range,
)
from bench.metrics.features.inception import to_uint8_rgb


class PretrainedSpace(ImageSpace):
    """A space of one torch-fidelity model. Subclasses are made per model by `register_models`:
    `model` is torch-fidelity's name for it, `name` the registered one (a model name or a short
    alias such as 'dinov2')."""

    model: ClassVar[str] = ""
    preprocessing: ClassVar[str] = ""  # what torch-fidelity does to the uint8 RGB images
    batch: ClassVar[int] = 32

    def weights(self) -> Path:
        """Where this machine holds the model's weights (a BenchError saying where to put them)."""
        raise NotImplementedError

    def load(self, path: Path) -> Any:
        """torch-fidelity's extractor with the weights at `path` (a BenchError when it fails)."""
        raise NotImplementedError

    def hashes(self, path: Path) -> dict[str, str]:
        """The sha256 of what was loaded from `path`, for the protocol."""
        raise NotImplementedError

    def fit(self, fingerprint: str, splits: DataSplits, info: DataInfo) -> dict:
        image_range(self.name, info, fingerprint)
        path = self.weights()
        self.load(path)  # refuse here, on the driver, before anything trains
        return {
            "extractor": f"torch-fidelity {self.model}",
            "weights": str(path),
            **self.hashes(path),
            "preprocessing": self.preprocessing,
        }

    def extractor(self, state: dict | None, info: DataInfo, device: str) -> Extractor:
        value_range = image_range(self.name, info)
        assert state is not None  # fit() always returns the state
        path = Path(state["weights"])
        if not path.exists():  # the driver's path may not exist on a remote node
            path = self.weights()
        net = self.load(path).to(device)
        return batched(lambda x: net(to_uint8_rgb(x, value_range)), device, self.batch)

    def __reduce__(self) -> tuple:
        # Its class is made at registration, so it is pickled (for Ray) as its registered name.
        return registered_space, (self.name,)


def registered_space(name: str) -> FeatureSpace:
    return FEATURE_SPACES.get(name)


def register_models(
    base: type[PretrainedSpace], models: list[str], aliases: dict[str, tuple[str, str]], what: str
) -> None:
    """Register one `base` space per torch-fidelity model, named as torch-fidelity names it and
    described by `what`, and each alias -> (model, why that model)."""
    described = {model: (model, what) for model in models}
    described |= {
        name: (model, f"the same as {model}: {why}") for name, (model, why) in aliases.items()
    }
    for name, (model, description) in described.items():
        attributes = {"name": name, "model": model, "description": description}
        subclass = type(base.__name__, (base,), {**attributes, "__module__": base.__module__})
        FEATURE_SPACES.register(name)(subclass)


def weights_path(env: str, option: str, cached: Path, space: str, source: str) -> Path:
    """$`env` (set by the CLI's `option`) when set (an error when it names nothing: a typo must
    not go unnoticed), else `cached`, torch-fidelity's own download; a BenchError naming both
    when neither exists."""
    explicit = os.environ.get(env)
    path = Path(explicit).expanduser() if explicit else cached
    if path.exists():
        return path
    if explicit:
        raise BenchError(
            f"the {space!r} feature space's weights {path} do not exist",
            where=f"${env} ({option})",
            fix=f"point it at {source}",
        )
    raise BenchError(
        f"the {space!r} feature space needs {cached.name}, which is not on this machine "
        "(bench does not download weights)",
        where=str(cached),
        fix=f"get {source} on a machine with internet access and put it at {cached}, or "
        f"anywhere and pass {option} PATH (environment variable {env})",
    )


def unloadable(space: str, path: Path | str, exc: Exception, source: str) -> BenchError:
    """The error for weights torch-fidelity cannot load: which file, why, how to fix."""
    first = str(exc).splitlines()[0] if str(exc) else ""
    return BenchError(
        f"cannot load the {space!r} feature space's weights from {path}: "
        f"{type(exc).__name__}: {first}",
        fix=f"replace it with {source}",
    )


def hub_checkpoints() -> Path:
    """Where torch hub (and so torch-fidelity) keeps downloaded weights."""
    return Path(torch.hub.get_dir()) / "checkpoints"
