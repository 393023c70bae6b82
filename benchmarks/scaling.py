"""Throughput of a suite of short trials through bench's Ray runner against the same trials run one
after another in this process, and what scheduling costs per trial.

    python benchmarks/scaling.py [--trials 16] [--cpus 2] [--steps 300]

The runner starts a local Ray with `--cpus` CPUs (one per trial, so that many run at once).
Parallel efficiency = sequential time / (runner time x concurrent trials): 1.0 means the harness
adds nothing and the trials scale perfectly. Not a test: timings are never asserted anywhere."""

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
name: scaling
seeds: [{seeds}]
budget: {{steps: {steps}, eval_every: {eval_every}, eval_samples: 500}}
resources: {{cpu: 1, gpu: 0}}
datasets: [ring8]
models: [{{name: gan, hparams: {{hidden: 32, batch_size: 64}}}}]
tracking: {{wandb: disabled}}
"""


def sequential(suite, trials) -> float:
    """The same trials in this process, one after another (dataset prepared once, as the runner)."""
    ref = suite.datasets[0]
    assets = prepare_dataset(ref.name, ref.params, ref.label, suite.budget.eval_samples)
    start = time.perf_counter()
    for trial in trials:
        reports: list[dict] = []
        assert run_trial(trial, assets, reports.append) == "completed", reports[-1].error
    return time.perf_counter() - start


def through_runner(suite, trials, cpus: int) -> float:
    import ray

    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        quiet = Console(file=io.StringIO())
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            outcome = run_suite(suite, trials, Path(folder), wandb_mode="disabled", console=quiet)
            elapsed = time.perf_counter() - start
    finally:
        ray.shutdown()
    assert outcome.all_completed, outcome.counts
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    text = SUITE.format(
        seeds=", ".join(map(str, range(args.trials))),
        steps=args.steps,
        eval_every=max(1, args.steps // 3),
    )
    suite = parse_suite(text, source="benchmarks/scaling.py")
    trials = expand(suite)
    sequential(suite, trials[:1])  # warm-up: imports, allocator
    alone = sequential(suite, trials)
    runner = through_runner(suite, trials, args.cpus)
    n = len(trials)
    print(f"{n} trials: gan on ring8, {args.steps} steps, 3 evaluations of 500 samples each")
    print(f"sequential, in process   {alone:8.2f} s  {60 * n / alone:7.1f} trials/min")
    print(f"runner, {args.cpus} CPUs           {runner:8.2f} s  {60 * n / runner:7.1f} trials/min")
    print(f"speed-up                 {alone / runner:8.2f} x")
    print(f"parallel efficiency      {alone / (runner * args.cpus):8.2f}")
    overhead = (runner * args.cpus - alone) / n
    print(f"scheduling overhead      {overhead:8.2f} s per trial (CPU-seconds beyond the training)")


if __name__ == "__main__":
    main()
