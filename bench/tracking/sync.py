"""Logging a run folder after the fact: `bench sync` (rebuild every wandb run that is missing or
behind the files, offline, then upload with `wandb sync`), `bench reproduce`'s comparison, and
the login check every online mode makes before anything is written."""

from __future__ import annotations

import json
import netrc
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.results.layout import RUN_FILE
from bench.suite.schema import Suite
from bench.tracking.ledger import Ledger, is_uploaded, pending_uploads, wandb_dir
from bench.tracking.rebuild import Rebuilt, destination, rebuild_leaderboard, rebuild_trials
from bench.tracking.runs import Destination, flush


def require_wandb_login() -> None:
    """Online mode without credentials would stop at a login prompt: say so up front."""
    if os.environ.get("WANDB_API_KEY"):
        return
    try:
        if netrc.netrc().authenticators("api.wandb.ai"):
            return
    except (FileNotFoundError, netrc.NetrcParseError):
        pass
    raise BenchError(
        "wandb online mode needs a wandb login, and none was found",
        fix="run `wandb login` (or set WANDB_API_KEY), or use --wandb offline / --wandb disabled",
    )


@dataclass
class SyncReport:
    run_dir: Path
    rebuilt: Rebuilt
    pending: int = 0  # offline copies not uploaded yet, before any upload of this sync
    uploaded: list[Path] = field(default_factory=list)
    failed: list[Path] = field(default_factory=list)
    upload_output: str = ""  # what `wandb sync` printed, shown when some upload failed


def sync_run(run_dir: Path, online: bool) -> SyncReport:
    """Rebuild, offline, every wandb run of a run folder that is missing or behind its files
    (the leaderboard run too, once the run is complete), then upload what is not uploaded yet
    when `online`. `run_dir` must be a run folder (bench.results.layout.find_run)."""
    dest = destination(run_dir, "offline")
    ledger = Ledger(run_dir)
    rebuilt = rebuild_trials(dest, ledger)
    if json.loads((Path(run_dir) / RUN_FILE).read_text()).get("status") == "complete":
        board_written = rebuild_leaderboard(dest, ledger)
        (rebuilt.written if board_written else rebuilt.current).append("leaderboard")
    flush()  # wandb writes its files in the background: all of them, before any upload
    report = SyncReport(Path(run_dir), rebuilt, pending=len(pending_uploads(wandb_dir(run_dir))))
    if online:
        report.uploaded, report.failed, report.upload_output = upload(Path(run_dir))
        ledger.mark_uploaded(report.uploaded)
    return report


def upload(run_dir: Path) -> tuple[list[Path], list[Path], str]:
    """`wandb sync` every offline copy not uploaded yet; (uploaded, failed, its output). It exits
    0 even when an upload failed, so success is read from the marker it leaves per copy."""
    pending = pending_uploads(wandb_dir(run_dir))
    if not pending:
        return [], [], ""
    done = subprocess.run(
        [sys.executable, "-m", "wandb", "sync", *map(str, pending)],
        capture_output=True,
        text=True,
        check=False,
    )
    uploaded = [copy for copy in pending if is_uploaded(copy)]
    failed = [copy for copy in pending if not is_uploaded(copy)]
    return uploaded, failed, (done.stdout + done.stderr).strip()


def log_reproduction(
    suite: Suite, run_dir: Path, comparisons: Sequence[Any], mode: str | None = None
) -> list[str]:
    """Add `bench reproduce`'s comparison (Comparison objects or their to_dict()) to the run's
    leaderboard run, in the suite's wandb mode unless `mode` is given. Returns warnings: a
    tracking failure never fails the reproduction, whose files are on disk."""
    mode = mode or suite.tracking.wandb
    if mode == "disabled":
        return []
    rows = [c if isinstance(c, dict) else c.to_dict() for c in comparisons]
    dest = Destination(mode, suite.tracking.project, suite.tracking.entity, suite.name, run_dir)
    try:
        if mode == "online":
            require_wandb_login()
        rebuild_leaderboard(dest, Ledger(run_dir), comparisons=rows)
    except Exception as exc:  # tracking never costs a result
        return [f"wandb could not log the reproduction of {run_dir}: {exc}"]
    return []
