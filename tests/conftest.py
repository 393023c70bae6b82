"""Shared fixtures: an isolated cache and results folder per test session, tiny trials."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
    """Domain classifiers are cached per session, never in the user's ~/.cache."""
    folder = tmp_path_factory.mktemp("bench-cache")
    previous = os.environ.get("BENCH_CACHE_DIR")
    os.environ["BENCH_CACHE_DIR"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("BENCH_CACHE_DIR", None)
    else:
        os.environ["BENCH_CACHE_DIR"] = previous


def write_suite(folder, text: str, name: str = "suite.yaml"):
    path = folder / name
    path.write_text(text)
    return path


TINY_SUITE = """\
name: tiny
seeds: [0, 1]
budget: {steps: 40, eval_every: 20, eval_samples: 200}
resources: {cpu: 1, gpu: 0}
datasets: [ring8, digits]
models:
  - {name: gan, hparams: {lr: [1.0e-4, 2.0e-4], hidden: 32, batch_size: 64}}
  - {name: vae, hparams: {hidden: 32}}
tracking: {wandb: disabled}
"""
