"""The offline-run reader against runs that the real wandb writes (WANDB_MODE=offline)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import wandb

from tests.tracking.wandb_offline import (
    FIRST,
    LAST,
    MIDDLE,
    CorruptLogError,
    iter_chunks,
    merge_by_id,
    offline_runs,
    read_finished,
    read_run,
)

LOSSES = [0.9, 0.4, 0.6, 0.2, 0.3]
ACCS = [0.1, 0.5, 0.3, 0.8, 0.7]
BIG = "x" * 70_000  # one record over two 32 KiB blocks: FIRST, MIDDLE and LAST chunks
CONFIG = {"lr": 2e-4, "model": {"name": "gan", "hidden": 32}, "seeds": [0, 1], "big": BIG}


@pytest.fixture(scope="module")
def wandb_env(tmp_path_factory):
    """Offline, silent, and every wandb folder (artifact staging too) inside a temporary one."""
    home = tmp_path_factory.mktemp("wandb-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WANDB_MODE", "offline")
        patch.setenv("WANDB_SILENT", "true")
        for name in ("WANDB_DATA_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR"):
            patch.setenv(name, str(home / name.lower()))
        yield home


def init(root: Path, **kwargs):
    """wandb.init offline into root/wandb/, console capture off, whatever other runs are open."""
    settings = wandb.Settings(console="off", silent=True, reinit="create_new")
    return wandb.init(mode="offline", dir=root, project="bench-test", settings=settings, **kwargs)


def log_everything(run, root: Path) -> None:
    """Metric definitions, five steps, a table in history and one in summary, an artifact."""
    run.define_metric("loss", summary="min")
    run.define_metric("acc", summary="max", step_metric="epoch")
    run.define_metric("epoch", hidden=True)
    for epoch, (loss, acc) in enumerate(zip(LOSSES, ACCS, strict=True)):
        run.log({"loss": loss, "acc": acc, "epoch": epoch})
    run.log({"samples": wandb.Table(columns=["seed", "fid"], data=[[0, 12.5], [1, 13.0]])})
    run.summary["leaderboard"] = wandb.Table(columns=["model", "rank"], data=[["gan", 1]])
    weights = root / "weights.txt"
    weights.write_text("not really weights")
    artifact = wandb.Artifact("weights", type="model", metadata={"epochs": 5})
    artifact.add_file(str(weights), name="ckpt/weights.txt")
    run.log_artifact(artifact)


@pytest.fixture(scope="module")
def written(wandb_env, tmp_path_factory):
    """One finished run (exit code 1) with everything the reader reads; its root folder."""
    root = tmp_path_factory.mktemp("wandb-run")
    run = init(
        root,
        name="gan-ring8-s0",
        group="suite-1",
        job_type="trial",
        tags=["gan", "ring8"],
        config=CONFIG,
    )
    log_everything(run, root)
    run.finish(exit_code=1)
    read_finished(Path(run.settings.sync_dir))
    return root, run.id


@pytest.fixture(scope="module")
def offline(written):
    root, _ = written
    (run,) = offline_runs(root)
    return run


def test_identity(offline, written):
    assert offline.id == written[1]
    assert offline.folder.name.startswith("offline-run-") and offline.folder.name.endswith(
        offline.id
    )
    assert (offline.name, offline.group, offline.job_type) == ("gan-ring8-s0", "suite-1", "trial")
    assert offline.tags == ["gan", "ring8"] and offline.project == "bench-test"
    assert not offline.resume


def test_config_is_plain_values(offline):
    assert offline.config == CONFIG


def test_history_one_row_per_step(offline):
    steps = offline.history[: len(LOSSES)]
    assert [row["_step"] for row in offline.history] == list(range(len(LOSSES) + 1))
    assert [row["loss"] for row in steps] == LOSSES
    assert [row["acc"] for row in steps] == ACCS
    assert [row["epoch"] for row in steps] == list(range(len(LOSSES)))
    assert offline.history[-1]["samples"]["_type"] == "table-file"


def test_metric_definitions(offline):
    assert offline.metrics["loss"] == {"summary": ["min"]}
    assert offline.metrics["acc"] == {"summary": ["max"], "step_metric": "epoch", "step_sync": True}
    assert offline.metrics["epoch"] == {"hidden": True}


def test_summary_follows_metric_definitions(offline):
    assert offline.summary["loss"] == {"min": min(LOSSES)}
    assert offline.summary["acc"] == {"max": max(ACCS)}
    assert offline.summary["epoch"] == len(LOSSES) - 1
    assert offline.summary["_step"] == len(LOSSES)


def test_tables_from_history_and_summary(offline):
    assert offline.tables == {
        "samples": {"columns": ["seed", "fid"], "data": [[0, 12.5], [1, 13.0]]},
        "leaderboard": {"columns": ["model", "rank"], "data": [["gan", 1]]},
    }
    assert all(path.startswith("media/table/") for path in offline.files if "table" in path)


def test_artifacts(offline):
    (artifact,) = offline.user_artifacts
    assert (artifact["name"], artifact["type"]) == ("weights", "model")
    assert artifact["files"] == ["ckpt/weights.txt"] and artifact["metadata"] == {"epochs": 5}
    staged = Path(artifact["local_paths"]["ckpt/weights.txt"])
    assert staged.read_text() == "not really weights"
    assert sorted(a["name"] for a in offline.artifacts if a["type"] == "run_table") == [
        f"run-{offline.id}-leaderboard",
        f"run-{offline.id}-samples",
    ]


def test_exit_code(offline):
    assert offline.finished and offline.exit_code == 1


def test_reads_records_split_over_blocks(offline):
    log = offline.folder / f"run-{offline.id}.wandb"
    kinds = {kind for kind, _ in iter_chunks(log.read_bytes(), log)}
    assert {FIRST, MIDDLE, LAST} <= kinds
    assert read_run(log).config["big"] == BIG


def test_cut_short_log_reads_as_unfinished_run(offline, tmp_path):
    """A run killed mid-write leaves a log that ends inside a record: read up to there."""
    folder = shutil.copytree(offline.folder, tmp_path / offline.folder.name)
    log = folder / f"run-{offline.id}.wandb"
    log.write_bytes(log.read_bytes()[:-5])
    run = read_run(folder)
    assert run.id == offline.id and not run.finished and run.history


def test_bad_checksum_is_an_error(offline, tmp_path):
    log = offline.folder / f"run-{offline.id}.wandb"
    data = bytearray(log.read_bytes())
    data[40] ^= 0xFF
    copy = tmp_path / log.name
    copy.write_bytes(bytes(data))
    with pytest.raises(CorruptLogError, match="checksum"):
        read_run(copy)


def test_not_a_wandb_log(tmp_path):
    bogus = tmp_path / "run-x.wandb"
    bogus.write_bytes(b"hello world")
    with pytest.raises(CorruptLogError, match="not a wandb log"):
        read_run(bogus)


def test_resumed_run_is_two_folders_with_one_id(wandb_env, tmp_path):
    for part in range(2):
        run = init(tmp_path, id="resumeme", resume="allow", config={"part": part})
        run.log({"part": part})
        run.finish()
        read_finished(Path(run.settings.sync_dir))
    runs = offline_runs(tmp_path / "wandb")
    assert len({run.folder for run in runs}) == 2
    grouped = merge_by_id(runs)
    assert list(grouped) == ["resumeme"]
    assert [run.history[0]["part"] for run in grouped["resumeme"]] == [0, 1]
    assert all(run.finished and run.exit_code == 0 for run in grouped["resumeme"])
    assert all(run.resume and run.history[0]["_step"] == 0 for run in grouped["resumeme"])
