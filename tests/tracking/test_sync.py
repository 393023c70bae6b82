"""wandb runs rebuilt from a run folder's files: `bench sync` (twice: the same ids, nothing new),
a resumed driver catching up, `bench reproduce`'s comparison, uploads and their failures."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.tracking import log_reproduction, make_tracker, stable_id
from bench.tracking.ledger import Ledger, offline_copies
from bench.tracking.runs import Destination, TrialRun
from bench.tracking.sync import upload
from tests.tracking.run_folder import by_name, isolate_wandb, read_runs, suite, write_run
from tests.tracking.test_tracking import replay

runner = CliRunner()


def bench(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def said(result) -> str:
    """The command's output as one line (the console wraps it at its width)."""
    return " ".join(result.output.split())


def folders(run_dir: Path) -> list[str]:
    return sorted(p.name for p in (run_dir / "wandb").glob("offline-run-*"))


@pytest.fixture
def wandb_home(tmp_path, monkeypatch):
    isolate_wandb(monkeypatch, tmp_path / "home")


@pytest.fixture(scope="module")
def synced_twice(tmp_path_factory):
    """A run folder no driver logged, synced twice: outputs, and the copies after each."""
    root = tmp_path_factory.mktemp("sync")
    with pytest.MonkeyPatch.context() as patch:
        isolate_wandb(patch, root / "home")
        store, records = write_run(root)
        first = bench("sync", store.path)
        after_first = folders(store.path)
        second = bench("sync", store.path)
        runs = by_name(store.path)
    return store, records, (first, second), (after_first, folders(store.path)), runs


def test_sync_logs_every_trial_and_the_leaderboard_with_stable_ids(synced_twice):
    store, records, (first, _), _, runs = synced_twice
    assert first.exit_code == 0, first.output
    assert "3 wandb runs (re)written offline, 0 already up to date" in said(first)
    expected = {r.trial.trial_id: stable_id(store.run_id, r.trial.trial_id) for r in records}
    expected["track"] = stable_id(store.run_id, "leaderboard")
    assert {name: run.id for name, run in runs.items()} == expected


def test_sync_again_writes_nothing_new(synced_twice):
    store, _, (_, second), (after_first, after_second), _ = synced_twice
    assert second.exit_code == 0, second.output
    assert "0 wandb runs (re)written offline, 3 already up to date" in said(second)
    assert after_first == after_second and len(after_second) == 3


def test_a_rebuilt_trial_holds_what_the_live_one_did(synced_twice):
    _, records, _, _, runs = synced_twice
    done, failed = (runs[r.trial.trial_id] for r in records)
    assert [row["_step"] for row in done.history] == [1, 2, 3, 4]
    assert [row.get("eval/fid") for row in done.history] == [None, 3, None, 1.5]
    assert done.summary["final/fid"] == 1.5 and done.summary["best/fid_step"] == 4
    assert done.history[-1]["samples"]["_type"] == "image-file"
    assert failed.tags == ["diverged"] and failed.exit_code == 1
    assert not any(key.startswith("final/") for key in failed.summary)
    board = runs["track"]
    assert board.tables["leaderboard"]["columns"][:5] == [
        "dataset",
        "rank",
        "model",
        "variant",
        "seeds ok",
    ]
    assert sorted(board.user_artifacts[0]["files"]) == ["leaderboard.csv", "leaderboard.md"]


def test_a_rewritten_run_replaces_its_copies_not_yet_uploaded(tmp_path, wandb_home):
    store, records = write_run(tmp_path)
    assert bench("sync", store.path).exit_code == 0
    kept, dropped = (
        offline_copies(store.path / "wandb", stable_id(store.run_id, r.trial.trial_id))
        for r in records
    )
    (kept[0] / f"run-{kept[0].name.rsplit('-', 1)[1]}.wandb.synced").touch()  # uploaded
    (store.path / "wandb" / "ledger.json").unlink()  # forget everything: all is rewritten
    result = bench("sync", store.path)
    assert "3 wandb runs (re)written offline" in said(result)
    groups = read_runs(store.path)
    assert len(groups) == 3
    trial_id = stable_id(store.run_id, records[0].trial.trial_id)
    assert len(groups[trial_id]) == 2 and kept[0].is_dir()  # the uploaded copy stays
    other = stable_id(store.run_id, records[1].trial.trial_id)
    assert len(groups[other]) == 1 and not dropped[0].exists()


def test_sync_of_a_folder_that_is_not_a_run_changes_nothing(tmp_path, wandb_home):
    (tmp_path / "notes.txt").write_text("not a run")
    result = bench("sync", tmp_path)
    assert result.exit_code == 2
    assert "no bench run found" in said(result) and "fix:" in said(result)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_online_sync_without_a_login_fails_before_writing(tmp_path, wandb_home, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    store, _ = write_run(tmp_path)
    result = bench("sync", store.path, "--wandb", "online")
    assert result.exit_code == 2 and "needs a wandb login" in said(result)
    assert not (store.path / "wandb").exists()


def test_an_interrupted_run_syncs_its_trials_but_no_leaderboard(tmp_path, wandb_home):
    store, records = write_run(tmp_path, complete=False)
    result = bench("sync", store.path)
    assert "2 wandb runs (re)written offline" in said(result)
    assert set(by_name(store.path)) == {r.trial.trial_id for r in records}


def test_a_resumed_driver_logs_what_its_killed_predecessor_did_not(tmp_path, wandb_home):
    """Trial 0 was logged in part by the killed driver (no ledger entry), trial 1 not at all:
    the resumed driver's catch-up logs both whole; its live run replaces the partial copy."""
    store, records = write_run(tmp_path)
    dest = Destination("offline", "bench-test", None, "track", store.path)
    partial = TrialRun(dest, records[0].trial)
    partial.log(records[0].history[:2], [])
    old_copy = partial.finish(records[0], None)
    tracker = make_tracker("offline", suite(), store.path)
    tracker.catch_up([r.trial.trial_id for r in records])
    assert tracker.close() == []
    groups = read_runs(store.path)
    assert not old_copy.exists() and all(len(copies) == 1 for copies in groups.values())
    (done,) = groups[stable_id(store.run_id, records[0].trial.trial_id)]
    assert [row["_step"] for row in done.history] == [1, 2, 3, 4]
    again = make_tracker("offline", suite(), store.path)
    again.catch_up([r.trial.trial_id for r in records])  # up to date: nothing rewritten
    assert again.close() == [] and read_runs(store.path).keys() == groups.keys()
    assert [c.folder for g in read_runs(store.path).values() for c in g] == [
        c.folder for g in groups.values() for c in g
    ]


def test_a_trial_resumed_live_continues_its_own_run(tmp_path, wandb_home):
    store, records = write_run(tmp_path)
    first = make_tracker("offline", suite(), store.path)
    replay(first, records[0], None)
    first.close()
    second = make_tracker("offline", suite(), store.path)  # the trial runs again after a resume
    replay(second, records[0], None)
    assert second.close() == []
    (copy,) = read_runs(store.path)[stable_id(store.run_id, records[0].trial.trial_id)]
    assert [row["_step"] for row in copy.history] == [1, 2, 3, 4]


def test_reproduction_joins_the_leaderboard_run(tmp_path, wandb_home):
    store, _ = write_run(tmp_path)
    comparisons = [{"model": "gan", "metric": "fid", "z": 0.5, "verdict": "match", "flags": []}]
    assert log_reproduction(suite(), store.path, comparisons) == []
    assert log_reproduction(suite(), store.path, comparisons) == []  # unchanged: not rewritten
    (board,) = read_runs(store.path)[stable_id(store.run_id, "leaderboard")]
    assert board.tables["reproduction"] == {
        "columns": ["model", "metric", "z", "verdict", "flags"],
        "data": [["gan", "fid", 0.5, "match", ""]],
    }


def test_uploads_are_judged_by_wandbs_markers(tmp_path, wandb_home, monkeypatch):
    store, _ = write_run(tmp_path)
    assert bench("sync", store.path).exit_code == 0
    copies = [store.path / "wandb" / name for name in folders(store.path)]

    tried: list[list[Path]] = []

    def fake_sync(command, **kwargs):
        tried.append([Path(arg) for arg in command[4:]])  # python -m wandb sync COPY...
        good = tried[-1][-1]  # this fake uploads only the last one
        (good / f"run-{good.name.rsplit('-', 1)[1]}.wandb.synced").touch()
        return subprocess.CompletedProcess(command, 0, "done", "")

    monkeypatch.setattr(subprocess, "run", fake_sync)
    uploaded, failed, _ = upload(store.path)
    assert tried == [copies] and uploaded == copies[-1:] and failed == copies[:-1]
    Ledger(store.path).mark_uploaded(uploaded)
    assert sum(e.get("uploaded", False) for e in Ledger(store.path).runs.values()) == 1
    upload(store.path)
    assert tried[-1] == copies[:-1]  # only what is not uploaded is tried again


def test_a_failed_real_upload_is_reported(tmp_path, wandb_home, monkeypatch):
    """`wandb sync` without a login exits 1 ("No API key configured") and marks nothing."""
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    store, _ = write_run(tmp_path, complete=False)
    assert bench("sync", store.path).exit_code == 0
    uploaded, failed, output = upload(store.path)
    assert uploaded == [] and len(failed) == 2 and "API key" in output


def test_reproduction_curves_and_plots_join_the_leaderboard_run(tmp_path, wandb_home):
    from bench.plots import Band, curves_png

    store, _ = write_run(tmp_path)
    (store.path / "reproduction").mkdir()
    plot = curves_png([Band("gan", [10, 20], [1.0, 2.0])], title="t", ylabel="fid")
    (store.path / "reproduction" / "01-gan-ring8-fid.png").write_bytes(plot)
    series = [
        {"step": 10, "n": 2, "mean": 1.0, "se": 0.1, "z": 3.0, "verdict": "mismatch"},
        {"step": 20, "n": 2, "mean": 2.0, "se": 0.1, "z": 0.5, "verdict": "match"},
    ]
    comparison = {
        "model": "gan",
        "dataset": "ring8",
        "metric": "fid",
        "published": 2.1,
        "published_se": 0.2,
        "verdict": "match",
        "trend": "closing",
        "series": series,
    }
    assert log_reproduction(suite(), store.path, [comparison]) == []
    (board,) = read_runs(store.path)[stable_id(store.run_id, "leaderboard")]
    assert "series" not in board.tables["reproduction"]["columns"]
    curve = board.tables["reproduction_over_training"]
    assert [row[4] for row in curve["data"]] == [10, 20]  # one row per evaluation step
    assert {row[-1] for row in curve["data"]} == {"closing"}
    assert any(key.startswith("reproduction/") for key in board.summary)


def test_a_copied_run_folder_syncs_to_the_same_ids(synced_twice, tmp_path, wandb_home):
    """The ids come from run.json's run id, not the folder's name: a run copied elsewhere (or
    renamed) continues its wandb runs instead of starting new ones."""
    import shutil

    store, _, _, _, runs = synced_twice
    copy = tmp_path / "renamed-copy"
    shutil.copytree(store.path, copy, ignore=shutil.ignore_patterns("wandb"))
    assert bench("sync", copy).exit_code == 0
    assert {n: r.id for n, r in by_name(copy).items()} == {n: r.id for n, r in runs.items()}
