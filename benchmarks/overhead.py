"""Harness overhead: one tiny trial run directly in this process, then the same trial through
bench's Ray Tune runner (local Ray start, object store, callback, results store, leaderboard).

    python benchmarks/overhead.py [--steps 1500] [--dataset ring8] [--model gan]

Prints both wall times and their ratio. Not a test: timings are never asserted anywhere."""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from pathlib import Path

from rich.console import Console

from bench.run.driver import run_suite
from bench.suite import expand, parse_suite
from bench.trial.evaluate import prepare_dataset
from bench.trial.train import run_trial

SUITE = """\
name: overhead
seeds: [0]
budget: {{steps: {steps}, eval_every: {eval_every}, eval_samples: 2000}}
resources: {{cpu: 1, gpu: 0}}
datasets: [{dataset}]
models: [{{name: {model}}}]
tracking: {{wandb: disabled}}
"""


def direct(suite, trial) -> float:
    start = time.perf_counter()
    ref = suite.datasets[0]
    assets = prepare_dataset(ref.name, ref.params, ref.label, suite.budget.eval_samples)
    reports: list = []
    status = run_trial(trial, assets, reports.append)
    assert status == "completed", reports[-1].error
    return time.perf_counter() - start


def through_runner(suite, trials) -> float:
    quiet = Console(file=io.StringIO())
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        outcome = run_suite(suite, trials, Path(folder), wandb_mode="disabled", console=quiet)
        elapsed = time.perf_counter() - start
    assert outcome.all_completed, outcome.counts
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--dataset", default="ring8")
    parser.add_argument("--model", default="gan")
    args = parser.parse_args()
    text = SUITE.format(
        steps=args.steps, eval_every=max(1, args.steps // 3), dataset=args.dataset, model=args.model
    )
    suite = parse_suite(text, source="benchmarks/overhead.py")
    trials = expand(suite)
    direct(suite, trials[0])  # warm-up: imports, classifier cache, allocator
    in_process = direct(suite, trials[0])
    runner = through_runner(suite, trials)
    print(f"trial: {args.model} on {args.dataset}, {args.steps} steps, 2000 eval samples x 3")
    print(f"direct, in process      {in_process:8.2f} s")
    print(f"through the Ray runner  {runner:8.2f} s  (includes starting and stopping local Ray)")
    print(f"harness overhead        {runner - in_process:8.2f} s")
    print(f"overhead ratio          {runner / in_process:8.2f} x")


if __name__ == "__main__":
    main()
