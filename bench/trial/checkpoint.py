"""Trial checkpoints on disk: one folder per checkpoint, holding `state.pt` (everything
`bench.trial.train` needs to continue a trial exactly) and `meta.json` (its step and a SHA-256 of
`state.pt`, so a truncated or corrupted file is recognised before it is trusted).

Knows nothing of Ray: the runner hands these folders to Tune's checkpoint API, and hands back the
folders a trial may restart from, newest first."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from bench.errors import BenchError
from bench.io import file_sha256, write_json, write_with
from bench.userfiles import load_state, read_json

STATE_FILE, META_FILE = "state.pt", "meta.json"
FORMAT = 1


class CheckpointError(Exception):
    """A checkpoint folder that cannot be trusted (missing, truncated, corrupted, other format)."""


def save(state: dict[str, Any], folder: Path) -> Path:
    """Write `state` into `folder` (atomically, file by file; meta.json last, so a folder whose
    meta.json exists holds a complete state.pt)."""
    folder = Path(folder)
    write_with(folder / STATE_FILE, lambda handle: torch.save(state, handle))
    digest = file_sha256(folder / STATE_FILE)
    write_json(folder / META_FILE, {"format": FORMAT, "step": state["step"], "sha256": digest})
    return folder


def load(folder: Path) -> dict[str, Any]:
    """The state saved in `folder`; raises CheckpointError when it cannot be trusted."""
    folder = Path(folder)
    try:
        meta = read_json(folder / META_FILE, "checkpoint's meta.json")
        if meta.get("format") != FORMAT:
            raise CheckpointError(f"format {meta.get('format')}, expected {FORMAT}")
        if file_sha256(folder / STATE_FILE) != meta.get("sha256"):
            raise CheckpointError("state.pt does not match its checksum (corrupted or truncated)")
        # a safe load even of the trial's own file: tensors, plain values and numpy arrays (the
        # RNG state) only, never code
        state = load_state(folder / STATE_FILE, "checkpoint state", numpy=True)
    except BenchError as exc:
        raise CheckpointError(exc.message()) from None
    except OSError as exc:
        raise CheckpointError(f"{type(exc).__name__}: {exc}") from None
    if state.get("step") != meta.get("step"):
        raise CheckpointError(f"state.pt is at step {state.get('step')}, meta says {meta['step']}")
    return state


def step_of(folder: Path) -> int:
    """The step recorded in a checkpoint's meta.json, -1 when unreadable (sorted last)."""
    try:
        return int(json.loads((Path(folder) / META_FILE).read_text())["step"])
    except (OSError, ValueError, KeyError, TypeError):
        return -1


@dataclass
class Restored:
    """The state a trial continues from, and what went wrong on the way to it."""

    state: dict[str, Any] | None
    source: str | None = None
    notes: list[str] = field(default_factory=list)


def load_newest(folders: list[Path]) -> Restored:
    """The newest trustworthy checkpoint among `folders`; a corrupted one is skipped (and said so)
    in favour of the previous, and none at all means training from step 0."""
    notes: list[str] = []
    ordered = sorted({Path(f) for f in folders}, key=lambda f: (step_of(f), str(f)), reverse=True)
    for folder in ordered:
        try:
            state = load(folder)
        except CheckpointError as exc:
            notes.append(f"checkpoint {folder} is unusable ({exc}); falling back to the previous")
            continue
        return Restored(state, str(folder), notes)
    if notes:
        notes.append("no usable checkpoint left: the trial restarts from step 0")
    return Restored(None, None, notes)
