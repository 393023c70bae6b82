"""Run folders written directly (no Ray, no training) for the report tests: real trial configs
from a suite, metrics.json with evaluations, history.csv, and real PNGs drawn with bench.plots."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from bench import plots
from bench.io import write_bytes, write_json, write_text
from bench.models import MODELS
from bench.results.layout import RUN_FILE
from bench.suite import expand, parse_suite

SUITE = """\
name: fake
seeds: [0, 1, 2]
budget: {steps: 300, eval_every: 100, eval_samples: 100}
datasets: [ring8]
models:
  - {name: gan, hparams: {lr: [1.0e-4, 1.0e-3]}}
  - {name: vae}
metrics: [fid, modes, stability]
tracking: {wandb: disabled}
"""
FID = {"lr=0.0001": 2.0, "lr=0.001": 1.0, "-": 0.5}  # each row's level; seeds add ±0.1
HOSTILE = "<script>alert('x')</script> & \"quotes\""  # an error text the report must escape


def final_metrics(trial, shift: float) -> dict[str, float]:
    fid = FID[trial.variant] + shift + 0.1 * (trial.seed - 1)
    stability = {"diverged": 0.0, "grad_norm_max": 3.0 + trial.seed}
    if trial.model == "gan":
        stability = {"diverged": 0.0, "d_gap": 0.2 + 0.01 * trial.seed, "loss_d_cv": 0.1}
    return {"fid": fid, "modes": 8.0 - trial.seed % 2, **stability}


def history_csv(trial, steps: int) -> str:
    """Every key the model declares, one row per step, smooth and seed-dependent."""
    keys = list(MODELS.get(trial.model).diagnostics)
    lines = [",".join(["step", *keys])]
    for step in range(1, steps + 1):
        values = [
            1.0 + math.exp(-step / 50) + 0.05 * trial.seed + 0.1 * i for i in range(len(keys))
        ]
        lines.append(",".join([str(step), *(f"{v:.5f}" for v in values)]))
    return "\n".join(lines) + "\n"


def pictures(seed: int) -> dict[str, bytes]:
    """A sample grid, a bar-like curve and an extra picture with a name the report does not know."""
    rng = np.random.default_rng(seed)
    plt = plots.pyplot()
    grid = plots.png_bytes(plt, plots.image_grid(plt, rng.random((9, 1, 8, 8)), None))
    modes = plots.curves_png(
        [plots.Band("share", [0, 1, 2], [0.3, 0.4, 0.3])], title="modes", ylabel="share"
    )
    return {"samples.png": grid, "modes.png": modes, "interpolation.png": grid}


def make_run(
    root: Path,
    run_id: str = "20260101-000000-aaaa",
    *,
    suite: str = SUITE,
    shift: float = 0.0,
    protocol: dict[str, Any] | None = None,
    fail_one: bool = False,
) -> Path:
    """A complete run folder of `suite` under root/<suite>/<run_id>; `shift` moves every FID;
    `fail_one` makes the last trial an error with a hostile message."""
    trials = expand(parse_suite(suite))
    run = root / trials[0].suite / run_id
    versions = {"bench": "0.1.0", "torch": "2.14.1"}
    meta = {"suite": trials[0].suite, "run_id": run_id, "status": "complete", "trials": len(trials)}
    write_json(run / RUN_FILE, {**meta, "host": "test", "versions": versions})
    steps = trials[0].budget["steps"]
    for i, trial in enumerate(trials):
        folder = run / "trials" / trial.trial_id
        write_json(folder / "config.json", trial.to_dict())
        final = final_metrics(trial, shift)
        evaluations = [
            {
                "step": s,
                "metrics": {
                    k: v * (1 + 100 / s) for k, v in final.items() if k in ("fid", "modes")
                },
            }
            for s in (100, 200, 300)
        ]
        failed = fail_one and i == len(trials) - 1
        metrics = {
            "trial_id": trial.trial_id,
            "status": "error" if failed else "completed",
            "error": HOSTILE if failed else None,
            "final": {} if failed else final,
            "evaluations": evaluations,
        }
        if protocol is not None:
            metrics["protocol"] = protocol
        write_json(folder / "metrics.json", metrics)
        write_text(folder / "history.csv", history_csv(trial, steps))
        if trial.seed == 0:
            for name, png in pictures(i).items():
                write_bytes(folder / name, png)
    return run
