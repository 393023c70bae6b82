"""A suite measured in two feature spaces through Ray Tune, as a user runs it: the leaderboard
holds the primary space's keys and the further space's, suffixed."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys

import pytest

from tests.conftest import write_suite

pytestmark = pytest.mark.ray

SUITE = """\
name: spaces
seeds: [0]
budget: {steps: 4, eval_every: 2, eval_samples: 100}
resources: {cpu: 1, gpu: 0}
datasets: [{name: digits, feature_spaces: [classifier, raw]}]
models: [{name: gan, hparams: {hidden: 16, batch_size: 32}}]
metrics: [fid, kid]
tracking: {wandb: disabled}
"""


def test_a_run_in_two_spaces_leaves_a_leaderboard_with_both_keys(tmp_path) -> None:
    suite = write_suite(tmp_path, SUITE)
    result = subprocess.run(
        [sys.executable, "-m", "bench", "run", str(suite), "--results", str(tmp_path / "out")],
        cwd=tmp_path,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    (run,) = (tmp_path / "out" / "spaces").iterdir()
    (row,) = csv.DictReader(io.StringIO((run / "leaderboard.csv").read_text()))
    for key in ("fid", "fid@raw", "kid", "kid@raw"):
        assert float(row[f"{key}_mean"]) == float(row[f"{key}_mean"])  # a number, not empty
    assert row["ranked_by"] == "fid" and row["rank"] == "1"
    assert "fid@raw" in (run / "leaderboard.md").read_text()
