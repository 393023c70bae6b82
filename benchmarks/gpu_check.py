"""The GPU check for a machine with CUDA, in one run of under 8 minutes (benchmarks/gpu_check.sh):

  (a) the CUDA tests (`pytest -k cuda`);
  (b) 8 short DCGAN trials through bench's Ray runner, packed four to a GPU (`gpu: 0.25`) against
      one at a time on the same GPU (`gpu: 1`): throughput ratio, goal >= 3x;
  (c) one DCGAN training step of bench's model against a bare PyTorch loop of the same networks,
      optimizers and loss: ratio of bare to bench step time, goal >= 0.9;
  (d) prdc and memorization at 50,000 x 2,048-d features on the GPU: seconds.

Prints one table. Each part runs only when the ones before it leave time; a part that cannot run
(no CUDA, a missing package) says why in its row. Nothing here is asserted: figures only."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

Row = tuple[str, str, str]  # check, figure, goal / note

PACKING_SUITE = """\
name: gpu_packing
seeds: [0, 1, 2, 3, 4, 5, 6, 7]
budget: {{steps: {steps}, eval_every: {steps}, eval_samples: 500}}
resources: {{cpu: 1, gpu: {gpu}}}
datasets: [digits]
models: [{{name: dcgan, hparams: {{batch_size: 64}}}}]
metrics: [fid]
tracking: {{wandb: disabled}}
"""


def cuda_tests() -> Row:
    """(a) Every test whose name mentions CUDA, on this machine's GPU."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "cuda"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=180)
    tail = (done.stdout.strip().splitlines() or ["no output"])[-1]
    return ("(a) CUDA tests", tail, "all passed, none skipped")


def packing(steps: int) -> Row:
    """(b) The same 8 trials packed four to a GPU, then one at a time; Ray started once."""
    import ray
    from rich.console import Console

    from bench.run.driver import run_suite
    from bench.suite import parse_suite

    ray.init(include_dashboard=False, log_to_driver=False)
    walls = {}
    try:
        for gpu in (0.25, 1):
            suite = parse_suite(PACKING_SUITE.format(steps=steps, gpu=gpu))
            start = time.perf_counter()
            out = Path("/tmp/gpu_check")
            outcome = run_suite(suite, suite.trials, out, console=Console(quiet=True))
            walls[gpu] = time.perf_counter() - start
            assert outcome.all_completed, outcome.counts
    finally:
        ray.shutdown()
    ratio = walls[1] / walls[0.25]
    figure = f"{ratio:.2f}x ({walls[1]:.0f} s one at a time, {walls[0.25]:.0f} s packed)"
    return ("(b) 8 DCGAN trials, gpu 0.25 vs 1", figure, "goal >= 3x")


def step_overhead(steps: int) -> Row:
    """(c) bench's `train_step` against a bare loop over the same networks on the same batches."""
    import torch
    from torch.nn import functional as F

    from bench.data import DATASETS
    from bench.models import MODELS, Batch

    dataset = DATASETS.get("digits")()
    x = dataset.load().train[:64].cuda()
    cls = MODELS.get("dcgan")
    torch.manual_seed(0)
    model = cls(cls.HParams(batch_size=64), dataset.info).cuda()
    bench_s = timed(lambda: model.train_step(Batch(x)), steps)
    g, d = model.generator, model.discriminator
    opt_g, opt_d = model.optimizer(g), model.optimizer(d)  # the same Adam settings, fresh state

    def bare() -> None:
        z = torch.randn(len(x), model.hparams.latent_dim, device="cuda")
        fake = g(z)
        real_out, fake_out = d(x), d(fake.detach())
        loss_d = F.softplus(-real_out).mean() + F.softplus(fake_out).mean()
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        loss_g = F.softplus(-d(g(torch.randn_like(z)))).mean()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()

    bare_s = timed(bare, steps)
    figure = f"{bare_s / bench_s:.2f} ({bench_s * 1e3:.2f} ms bench, {bare_s * 1e3:.2f} ms bare)"
    return ("(c) DCGAN step, bare / bench", figure, "goal >= 0.9")


def timed(step: Callable[[], object], steps: int) -> float:
    """Seconds per call after a warm-up, with the GPU's queue drained around the timing."""
    import torch

    for _ in range(10):
        step()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def neighbour_metrics(n: int) -> list[Row]:
    """(d) prdc and memorization on random 2,048-d features of n points per set, on the GPU."""
    import torch

    from bench.metrics import memorization, prdc

    gen = torch.Generator().manual_seed(0)
    real, fake, held = (torch.randn(n, 2048, generator=gen, dtype=torch.float64) for _ in range(3))
    rows = []
    for name, run in (
        ("prdc", lambda: prdc(real, fake, device="cuda")),
        ("memorization", lambda: memorization(real, fake, held, device="cuda")),
    ):
        torch.cuda.synchronize()
        start = time.perf_counter()
        run()
        torch.cuda.synchronize()
        rows.append((f"(d) {name}, {n:,} x 2048-d", f"{time.perf_counter() - start:.1f} s", ""))
    return rows


def attempt(part: Callable[[], Row | list[Row]], label: str) -> list[Row]:
    """A part's rows, or one row saying why it could not run."""
    try:
        rows = part()
    except Exception as exc:  # a figure-only script: report and go on to the next part
        return [(label, f"did not run: {type(exc).__name__}: {exc}".splitlines()[0], "")]
    return rows if isinstance(rows, list) else [rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trial-steps", type=int, default=300)
    parser.add_argument("--step-repeats", type=int, default=200)
    parser.add_argument("--points", type=int, default=50_000)
    args = parser.parse_args()
    os.environ.setdefault("WANDB_MODE", "disabled")
    import torch

    if not torch.cuda.is_available():
        print("no CUDA device: nothing to check (this script is for a machine with a GPU)")
        return
    began = time.perf_counter()
    rows = [("device", torch.cuda.get_device_name(0), f"torch {torch.__version__}")]
    rows += attempt(cuda_tests, "(a) CUDA tests")
    rows += attempt(lambda: packing(args.trial_steps), "(b) packing")
    rows += attempt(lambda: step_overhead(args.step_repeats), "(c) step overhead")
    rows += attempt(lambda: neighbour_metrics(args.points), "(d) neighbour metrics")
    rows.append(("total", f"{time.perf_counter() - began:.0f} s", "budget 480 s"))
    width = max(len(r[0]) for r in rows)
    print(f"{'check':{width}} | figure | goal")
    for check, figure, goal in rows:
        print(f"{check:{width}} | {figure} | {goal}")


if __name__ == "__main__":
    main()
