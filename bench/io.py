"""Atomic file writes, file digests and the on-disk cache location. Every file bench writes goes
through here: a temporary file in the same folder, flushed, then renamed over the target, so a
crash never leaves a half-written file behind."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


def _atomic(path: Path, write: Callable[[IO[bytes]], None]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~UMASK)  # mkstemp makes 0600; results are for everyone to read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


UMASK = _umask()  # read once at import: os.umask can only be read by setting it, process-wide


def write_bytes(path: Path, data: bytes) -> Path:
    return _atomic(path, lambda handle: handle.write(data))


def write_text(path: Path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, obj: Any) -> Path:
    return write_text(path, json.dumps(obj, indent=2, sort_keys=True, allow_nan=True) + "\n")


def write_with(path: Path, save: Callable[[IO[bytes]], None]) -> Path:
    """Atomic write through a library's own writer, e.g. `lambda f: torch.save(obj, f)`."""
    return _atomic(path, save)


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of the file at `path`, read in 1 MiB blocks so large files never sit whole in
    memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_dir() -> Path:
    """Where derived artefacts (domain classifiers, reference statistics) are cached:
    $BENCH_CACHE_DIR, else $XDG_CACHE_HOME/bench, else ~/.cache/bench."""
    explicit = os.environ.get("BENCH_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "bench"
