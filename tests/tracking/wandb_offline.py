"""Read back what wandb wrote for an offline run (``WANDB_MODE=offline``), for tests.

wandb 0.31 has no Python reader for its run files: the old ``wandb.sdk.internal.datastore``
went with the legacy Python backend, and wandb-core (Go) writes and syncs them. A run folder
``wandb/offline-run-<YYYYmmdd_HHMMSS>-<id>[-N]/`` holds:

* ``run-<id>.wandb``: a record log. A 7-byte file header (``b":W&B"``, magic ``0xBEE1`` as
  little-endian uint16, version byte 0), then LevelDB-style 32 KiB blocks of chunks. Each chunk
  has a 7-byte header ``<crc32: uint32 LE><length: uint16 LE><type: uint8>`` followed by its
  payload; the CRC is zlib's CRC-32 of the payload seeded with the CRC-32 of the type byte. Type
  FULL holds one record, FIRST/MIDDLE/LAST one record split across blocks; a block tail shorter
  than a chunk header is zero padding. Each record is a ``wandb.proto.wandb_internal_pb2.Record``.
* ``files/``: files the run saved, among them ``media/table/*.table.json`` for logged tables,
  which history and summary reference by ``path``.

``read_run`` turns one folder into an ``OfflineRun``; ``offline_runs`` reads every run under a
``wandb/`` folder, and ``merge_by_id`` groups the folders that one resumed run wrote.
"""

from __future__ import annotations

import json
import struct
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wandb.proto import wandb_internal_pb2 as pb

BLOCK_SIZE = 32 * 1024
CHUNK_HEADER = struct.Struct("<IHB")
FILE_HEADER = struct.Struct("<4sHB")
FILE_IDENT, FILE_MAGIC, FILE_VERSION = b":W&B", 0xBEE1, 0
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
TABLE_TYPES = ("table-file", "incremental-table-file")
SUMMARY_OPS = ("min", "max", "mean", "best", "last", "first", "none", "copy")


class CorruptLogError(ValueError):
    """A ``.wandb`` file that is not a record log, or one whose checksums do not match."""


@dataclass
class OfflineRun:
    """What one offline-run folder says about a run (one process's part of it, if resumed).

    ``config`` holds plain values (the records carry no ``{"value": ...}`` wrapping; wandb's
    own ``_wandb`` key is dropped). ``summary`` is the final summary; a metric defined with
    ``summary="min"`` appears as ``{"min": ...}``. ``history`` has one dict per step, nested
    keys as nested dicts, JSON-decoded (wandb-core writes ``1.0`` as ``1``). ``metrics`` maps a
    define_metric name to the options set: ``summary`` (list of ops), ``step_metric``,
    ``step_sync``, ``hidden``, ``goal``. ``tables`` maps a logged table's key to its
    ``{"columns", "data"}``. Each artifact is ``{"name", "type", "digest", "aliases",
    "description", "metadata", "files", "local_paths"}``; ``local_paths`` point into wandb's
    staging folder (``$WANDB_DATA_DIR/artifacts/staging``), which ``wandb sync`` uploads from.
    ``resume`` is whether ``wandb.init`` asked to resume (offline, nothing is resumed:
    ``_step`` restarts at 0 in every folder).
    """

    folder: Path
    id: str = ""
    name: str = ""
    group: str = ""
    job_type: str = ""
    project: str = ""
    entity: str = ""
    notes: str = ""
    tags: list[str] = field(default_factory=list)
    start_time: float = 0.0
    resume: bool = False
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    exit_code: int | None = None

    @property
    def finished(self) -> bool:
        """Whether the run wrote its exit record (``run.finish()`` or a normal exit)."""
        return self.exit_code is not None

    @property
    def user_artifacts(self) -> list[dict[str, Any]]:
        """Artifacts other than the ``run_table`` ones wandb makes for each logged table."""
        return [a for a in self.artifacts if a["type"] != "run_table"]


# --- the record log -----------------------------------------------------------------------


def _check_file_header(data: bytes, path: Path) -> None:
    if len(data) < FILE_HEADER.size:
        raise CorruptLogError(f"{path}: too short for a wandb record log")
    ident, magic, version = FILE_HEADER.unpack_from(data)
    if (ident, magic, version) != (FILE_IDENT, FILE_MAGIC, FILE_VERSION):
        raise CorruptLogError(f"{path}: header {ident!r} {magic:#x} v{version} is not a wandb log")


def iter_chunks(data: bytes, path: Path) -> Iterator[tuple[int, bytes]]:
    """Yield ``(type, payload)`` per chunk; stop quietly at a tail cut short by a live writer."""
    pos = FILE_HEADER.size
    while pos + CHUNK_HEADER.size <= len(data):
        left = BLOCK_SIZE - pos % BLOCK_SIZE
        if left < CHUNK_HEADER.size:  # zero padding up to the next block
            pos += left
            continue
        crc, length, kind = CHUNK_HEADER.unpack_from(data, pos)
        if crc == length == kind == 0:  # a zero-filled block tail
            pos += left
            continue
        start = pos + CHUNK_HEADER.size
        payload = data[start : start + length]
        if len(payload) < length:
            return
        if zlib.crc32(payload, zlib.crc32(bytes([kind]))) != crc:
            raise CorruptLogError(f"{path}: bad checksum in the chunk at byte {pos}")
        yield kind, payload
        pos = start + length


def iter_payloads(data: bytes, path: Path) -> Iterator[bytes]:
    """Reassemble FULL and FIRST..MIDDLE..LAST chunks into whole record payloads."""
    pending: bytearray | None = None
    for kind, payload in iter_chunks(data, path):
        if kind == FULL:
            yield payload
        elif kind == FIRST:
            pending = bytearray(payload)
        elif kind in (MIDDLE, LAST) and pending is not None:
            pending += payload
            if kind == LAST:
                yield bytes(pending)
                pending = None
        else:
            raise CorruptLogError(f"{path}: chunk type {kind} out of order")


def iter_records(path: Path) -> Iterator[pb.Record]:
    """Every ``Record`` of one ``run-<id>.wandb`` file, in the order wandb wrote them."""
    data = path.read_bytes()
    _check_file_header(data, path)
    for payload in iter_payloads(data, path):
        record = pb.Record()
        record.ParseFromString(payload)
        yield record


# --- record contents ----------------------------------------------------------------------


def _item_path(item: Any) -> list[str]:
    """``key`` or ``nested_key`` of a config/summary/history item, as a path."""
    return [item.key] if item.key else list(item.nested_key)


def _set_path(target: dict[str, Any], path: list[str], value: Any) -> None:
    for key in path[:-1]:
        child = target.get(key)
        if not isinstance(child, dict):
            child = target[key] = {}
        target = child
    target[path[-1]] = value


def _remove_path(target: dict[str, Any], path: list[str]) -> None:
    for key in path[:-1]:
        target = target.get(key)
        if not isinstance(target, dict):
            return
    target.pop(path[-1], None)


def _apply_updates(target: dict[str, Any], update: Iterable[Any], remove: Iterable[Any]) -> None:
    """Apply a ConfigRecord's or SummaryRecord's updates (JSON values) and removals."""
    for item in update:
        _set_path(target, _item_path(item), json.loads(item.value_json))
    for item in remove:
        _remove_path(target, _item_path(item))


def _history_value(item: pb.HistoryItem) -> Any:
    """A history value: ``value_json`` (the default form) or the optional typed form."""
    if item.value_json:
        return json.loads(item.value_json)
    kind = item.WhichOneof("value")
    if kind == "json":
        return json.loads(item.json)
    return None if kind in (None, "none") else getattr(item, kind)


def _history_row(record: pb.HistoryRecord) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for item in record.item:
        _set_path(row, _item_path(item), _history_value(item))
    row.setdefault("_step", record.step.num)
    return row


def _metric(record: pb.MetricRecord) -> dict[str, Any]:
    """A define_metric record as a dict holding only the options that were set."""
    options: dict[str, Any] = {}
    ops = [op for op in SUMMARY_OPS if getattr(record.summary, op)]
    if ops:
        options["summary"] = ops
    if record.step_metric:
        options["step_metric"] = record.step_metric
    if record.options.step_sync:
        options["step_sync"] = True
    if record.options.hidden:
        options["hidden"] = True
    if record.goal:
        goal = pb.MetricRecord.MetricGoal.Name(record.goal)
        options["goal"] = goal.removeprefix("GOAL_").lower()
    return options


def _artifact(record: pb.ArtifactRecord) -> dict[str, Any]:
    return {
        "name": record.name,
        "type": record.type,
        "digest": record.digest,
        "aliases": list(record.aliases),
        "description": record.description,
        "metadata": json.loads(record.metadata) if record.metadata else {},
        "files": [entry.path for entry in record.manifest.contents],
        "local_paths": {entry.path: entry.local_path for entry in record.manifest.contents},
    }


def _apply_run(run: OfflineRun, record: pb.RunRecord) -> None:
    run.id, run.project, run.entity = record.run_id, record.project, record.entity
    run.name, run.group, run.job_type = record.display_name, record.run_group, record.job_type
    run.notes, run.tags, run.resume = record.notes, list(record.tags), record.resume
    run.start_time = record.start_time.ToMicroseconds() / 1e6
    _apply_updates(run.config, record.config.update, record.config.remove)
    _apply_updates(run.summary, record.summary.update, record.summary.remove)


def _apply_metric(run: OfflineRun, record: pb.MetricRecord) -> None:
    name = record.name or record.glob_name
    if record._control.overwrite or name not in run.metrics:
        run.metrics[name] = {}
    run.metrics[name].update(_metric(record))


def _apply(run: OfflineRun, record: pb.Record) -> None:
    """Fold one record into the run."""
    kind = record.WhichOneof("record_type")
    if kind == "run":
        _apply_run(run, record.run)
    elif kind == "config":
        _apply_updates(run.config, record.config.update, record.config.remove)
    elif kind == "summary":
        _apply_updates(run.summary, record.summary.update, record.summary.remove)
    elif kind == "history":
        run.history.append(_history_row(record.history))
    elif kind == "metric":
        _apply_metric(run, record.metric)
    elif kind == "artifact":
        run.artifacts.append(_artifact(record.artifact))
    elif kind == "files":
        run.files.extend(item.path for item in record.files.files)
    elif kind == "exit":
        run.exit_code = record.exit.exit_code


# --- tables -------------------------------------------------------------------------------


def _table_refs(value: Any, key: str) -> Iterator[tuple[str, str]]:
    """``(key, path)`` for every table reference in a (nested) history or summary value."""
    if not isinstance(value, dict):
        return
    if value.get("_type") in TABLE_TYPES and "path" in value:
        yield key, value["path"]
        return
    for child_key, child in value.items():
        yield from _table_refs(child, f"{key}.{child_key}" if key else child_key)


def _load_tables(run: OfflineRun) -> dict[str, dict[str, Any]]:
    """Every logged table by key: history rows in order, then the final summary (last wins)."""
    tables: dict[str, dict[str, Any]] = {}
    for source in [*run.history, run.summary]:
        for key, path in _table_refs(source, ""):
            table = json.loads((run.folder / "files" / path).read_text())
            tables[key] = {"columns": table["columns"], "data": table["data"]}
    return tables


# --- public API ---------------------------------------------------------------------------


def _log_file(folder: Path) -> Path:
    if folder.suffix == ".wandb":
        return folder
    logs = sorted(folder.glob("run-*.wandb"))
    if len(logs) != 1:
        raise FileNotFoundError(f"{folder}: expected one run-*.wandb file, found {len(logs)}")
    return logs[0]


def read_run(folder: Path) -> OfflineRun:
    """Read one ``offline-run-*`` folder (or its ``run-<id>.wandb`` file)."""
    log = _log_file(Path(folder))
    run = OfflineRun(folder=log.parent)
    for record in iter_records(log):
        _apply(run, record)
    run.config.pop("_wandb", None)
    run.tables = _load_tables(run)
    return run


def read_finished(folder: Path, timeout: float = 10.0) -> OfflineRun:
    """``read_run`` once the exit record is on disk.

    ``run.finish()`` returns before wandb-core has flushed and closed the ``.wandb`` file (it
    lands some 50 ms later; ``wandb.teardown()`` waits for it, but ends the process-wide
    service), so poll. Raises ``TimeoutError`` for a run that never finished.
    """
    deadline = time.monotonic() + timeout
    while True:
        run = read_run(folder)
        if run.finished:
            return run
        if time.monotonic() > deadline:
            raise TimeoutError(f"{folder}: no exit record after {timeout} s")
        time.sleep(0.05)


def offline_runs(root: Path) -> list[OfflineRun]:
    """Every offline run under ``root`` (a ``wandb/`` folder or one above it), oldest first."""
    root = Path(root)
    if root.name not in ("wandb", ".wandb") and (root / "wandb").is_dir():
        root = root / "wandb"
    runs = [read_run(folder) for folder in root.glob("offline-run-*") if folder.is_dir()]
    return sorted(runs, key=lambda run: (run.start_time, run.folder.name))


def merge_by_id(runs: Iterable[OfflineRun]) -> dict[str, list[OfflineRun]]:
    """Group runs by run id, each group oldest first: a resumed run is one id, several folders."""
    grouped: dict[str, list[OfflineRun]] = {}
    for run in sorted(runs, key=lambda run: (run.start_time, run.folder.name)):
        grouped.setdefault(run.id, []).append(run)
    return grouped
