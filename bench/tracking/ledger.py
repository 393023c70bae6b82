"""The run folder's wandb/ folder, as bench keeps it: a ledger of the wandb runs it holds, and at
most one offline copy of each run that is not uploaded yet.

`wandb/ledger.json` maps each wandb run id to what was logged in it (the trial's status, step and
number of evaluations; a digest of the leaderboard's content) and the folder it went to. A run
whose entry matches its files on disk is up to date, so `bench sync` and a resumed driver log
only what a killed driver never logged, or logged in part, and repeating them writes nothing.

When a run is logged again (a resumed trial, a rebuild), the new copy holds everything from the
trial's files; the older offline copies of that id that wandb has not uploaded are then removed,
so an upload never sends one step twice. Uploaded copies (`run-<id>.wandb.synced`) stay."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from bench.io import write_json

WANDB_DIR = "wandb"
LEDGER = "ledger.json"


def wandb_dir(run_dir: Path) -> Path:
    return Path(run_dir) / WANDB_DIR


class Ledger:
    """wandb id -> {"name": trial id or "leaderboard", "logged": fingerprint, "folder": name,
    "uploaded": bool}. Written by one thread of one process at a time (the tracker's worker, or
    `bench sync`), atomically."""

    def __init__(self, run_dir: Path) -> None:
        self.folder = wandb_dir(run_dir)
        self.path = self.folder / LEDGER
        self.runs: dict[str, dict[str, Any]] = {}
        if self.path.is_file():
            self.runs = json.loads(self.path.read_text()).get("runs", {})

    def up_to_date(self, run_id: str, logged: str) -> bool:
        """Logged with this content, and still here or uploaded."""
        entry = self.runs.get(run_id)
        if entry is None or entry["logged"] != logged:
            return False
        return entry.get("uploaded", False) or (self.folder / entry["folder"]).is_dir()

    def record(self, run_id: str, name: str, logged: str, folder: Path) -> None:
        """A complete copy of the run is in `folder`: note it, and drop the copies it replaces."""
        self.runs[run_id] = {"name": name, "logged": logged, "folder": Path(folder).name}
        self.save()
        remove_superseded(self.folder, run_id, keep=folder)

    def mark_uploaded(self, folders: list[Path]) -> None:
        names = {folder.name for folder in folders}
        for entry in self.runs.values():
            if entry["folder"] in names:
                entry["uploaded"] = True
        self.save()

    def save(self) -> None:
        write_json(self.path, {"runs": self.runs})


def offline_copies(folder: Path, run_id: str) -> list[Path]:
    """The offline-run folders wandb wrote for one run id (one per time it was logged offline)."""
    return sorted(
        p for p in folder.glob(f"offline-run-*-{run_id}*") if (p / f"run-{run_id}.wandb").is_file()
    )


def is_uploaded(copy: Path) -> bool:
    """`wandb sync` marks a copy it uploaded with this file (it exits 0 even when it fails)."""
    return any(copy.glob("run-*.wandb.synced"))


def remove_superseded(folder: Path, run_id: str, keep: Path) -> None:
    """Drop the older offline copies of a run that a newer, complete one replaces, unless
    uploaded (those are the online run's past, which the new copy continues)."""
    for copy in offline_copies(folder, run_id):
        if copy.resolve() != Path(keep).resolve() and not is_uploaded(copy):
            shutil.rmtree(copy, ignore_errors=True)


def pending_uploads(folder: Path) -> list[Path]:
    """Offline copies not uploaded yet, oldest first."""
    return sorted(p for p in folder.glob("offline-run-*") if p.is_dir() and not is_uploaded(p))
