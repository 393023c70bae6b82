"""Resuming a run whose driver stopped: which trials it finished (kept as they are) and which
checkpoints the others may continue from. The suite must be the one the run was made with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.errors import BenchError
from bench.results.record import FINAL
from bench.results.store import RunStore
from bench.trial import Trial


@dataclass
class ResumePlan:
    finished: dict[str, dict[str, Any]]  # trial id -> metrics.json of trials left as they are
    points: dict[str, list[str]]  # trial id -> checkpoint folders it may continue from


def plan_resume(store: RunStore, trials: list[Trial]) -> ResumePlan:
    """What an earlier driver finished, and where the rest may continue from. The suite must be
    the one the run was made with: the same trials, with the same configs."""
    stored = store.stored_trials()
    expected = {t.trial_id: t.to_dict() for t in trials}
    suite = store.meta().get("suite")
    if stored.keys() != expected.keys():
        missing, extra = sorted(expected.keys() - stored.keys()), sorted(stored.keys() - expected)
        detail = f"{len(missing)} of its trials are not in the run" if missing else ""
        detail += ("; " if detail and extra else "") + (
            f"the run has {len(extra)} trials the suite lacks" if extra else ""
        )
        raise BenchError(
            f"{store.path} is a run of suite '{suite}' with other trials than this suite "
            f"({detail}; e.g. {(missing or extra)[0]})",
            fix="resume with the suite file the run was made with (its copy is suite.yaml in the "
            "run folder), or start a new run without --resume",
        )
    changed = [tid for tid, (config, _) in stored.items() if config != expected[tid]]
    if changed:
        config = stored[changed[0]][0]
        keys = sorted(k for k in config if config[k] != expected[changed[0]].get(k))
        raise BenchError(
            f"{store.path}: trial {changed[0]} was run with other settings than this suite "
            f"gives it (differs in {', '.join(keys)})",
            fix="resume with the suite file the run was made with (its copy is suite.yaml in the "
            "run folder), or start a new run without --resume",
        )
    finished = {tid: m for tid, (_, m) in stored.items() if m.get("status") in FINAL}
    points = {
        tid: [str(p) for p in store.checkpoints(tid)] for tid in expected if tid not in finished
    }
    return ResumePlan(finished, points)
