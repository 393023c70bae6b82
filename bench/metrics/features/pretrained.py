"""What the pretrained image spaces (dinov2, clip) share: the images they accept, the weights file
they read from a path bench never downloads to, and the description the protocol records.
torch-fidelity is imported by the spaces' own modules, inside functions."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from bench.data.base import DataInfo
from bench.errors import BenchError


def image_range(space: str, info: DataInfo, where: str | None = None) -> tuple[float, float]:
    """The images' value range, or a BenchError when the data is not grey/RGB images."""
    if info.kind != "image" or len(info.shape) != 3 or info.shape[0] not in (1, 3):
        raise BenchError(
            f"the {space!r} feature space needs grey or RGB images, not {info.shape}",
            where=where,
            fix="use the 'raw' feature space for point data",
        )
    if info.value_range is None:
        raise BenchError(
            f"the {space!r} feature space needs images with a known value range",
            where=where,
            fix="give the dataset a value_range (e.g. (0, 1)) so pixels map to 0..255",
        )
    return info.value_range


def env_choice(env: str, default: str, choices: list[str], space: str) -> str:
    """The model size named by $`env` (default `default`), checked against `choices`."""
    chosen = os.environ.get(env, default)
    if chosen not in choices:
        raise BenchError(
            f"the {space!r} feature space has no model {chosen!r}",
            where=f"${env}",
            fix=f"use one of {', '.join(choices)}",
        )
    return chosen


def weights_path(env: str, cached: Path, space: str, source: str) -> Path:
    """$`env` when set (an error when it names nothing: a typo must not go unnoticed), else
    `cached`, torch-fidelity's own download; a BenchError naming both when neither exists."""
    explicit = os.environ.get(env)
    path = Path(explicit).expanduser() if explicit else cached
    if path.exists():
        return path
    raise BenchError(
        f"the {space!r} feature space needs {cached.name}, which is not on this machine "
        "(bench does not download weights)",
        where=f"${env}={explicit}" if explicit else str(cached),
        fix=f"get {source} on a machine with internet access and put it at {cached}, or "
        f"anywhere and pass --weights PATH (environment variable {env})",
    )


def unloadable(space: str, path: Path, exc: Exception, source: str) -> BenchError:
    """The error for a weights file torch-fidelity cannot load: which file, why, how to fix."""
    first = str(exc).splitlines()[0] if str(exc) else ""
    return BenchError(
        f"cannot load the {space!r} feature space's weights from {path}: "
        f"{type(exc).__name__}: {first}",
        fix=f"replace it with {source}",
    )


def hub_checkpoints() -> Path:
    """Where torch hub (and so torch-fidelity) keeps downloaded weights."""
    return Path(torch.hub.get_dir()) / "checkpoints"
