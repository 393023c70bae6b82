"""Speed and peak memory of bench's prdc against the `prdc` package (Naeem et al.'s reference).

    python benchmarks/metrics.py [--sizes 5000 10000] [--large 50000] [--dim 2048] [--k 5]

Real and generated features are standard-normal float64 (N, dim) arrays (float64 is what bench's
feature spaces produce), the same arrays for both implementations. Every case runs in a fresh
subprocess that generates its data, times the one call and reports its own peak resident set
size (getrusage ru_maxrss, inputs included), so no case inherits another's memory. Prints one
table: seconds, peak RSS, the four values, whether bench's values equal the package's exactly,
and the speed-up. `--large` runs bench alone (the package would need several N x N matrices).
Not a test: timings are never asserted anywhere. Threads: library defaults (all cores)."""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import subprocess
import sys
import time

import numpy as np
import torch

KEYS = ("precision", "recall", "density", "coverage")


def features(n: int, dim: int, seed: int) -> np.ndarray:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, dim, generator=gen, dtype=torch.float64).numpy()


def run_case(impl: str, n: int, dim: int, k: int) -> dict:
    """One measurement, in this (fresh) process."""
    from prdc import compute_prdc

    from bench.metrics.diversity import prdc

    real, fake = features(n, dim, seed=1), features(n, dim, seed=2)
    start = time.perf_counter()  # imports and data generation stay outside the timing
    if impl == "bench":
        values = prdc(real, fake, k)
    else:
        with contextlib.redirect_stdout(sys.stderr):  # it prints the set sizes
            values = compute_prdc(real, fake, k)
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {
        "seconds": seconds,
        "peak_gib": peak_kib / 2**20,
        "values": {key: float(values[key]) for key in KEYS},
    }


def measure(impl: str, n: int, dim: int, k: int) -> dict:
    cmd = [sys.executable, __file__, "--case", impl, str(n), "--dim", str(dim), "--k", str(k)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def row(n: int, impl: str, result: dict, identical: str, speedup: str) -> str:
    v = result["values"]
    cells = [
        f"{n:>6}",
        f"{impl:<7}",
        f"{result['seconds']:>9.1f}",
        f"{result['peak_gib']:>9.2f}",
        *(f"{v[key]:.6f}" for key in KEYS),
        f"{identical:<9}",
        speedup,
    ]
    return " | ".join(cells)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[5000, 10000])
    parser.add_argument("--large", type=int, nargs="*", default=[50000])
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--case", nargs=2, metavar=("IMPL", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case[0], int(args.case[1]), args.dim, args.k)))
        return

    print(f"prdc, k={args.k}, {args.dim}-d standard-normal float64 features, N real = N fake")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    header = ["     N", "impl   ", "  seconds", " peak GiB", *(f"{key:<8}" for key in KEYS)]
    print(" | ".join([*header, "identical", "speed-up"]))
    for n in args.sizes:
        ref = measure("package", n, args.dim, args.k)
        ours = measure("bench", n, args.dim, args.k)
        same = all(ours["values"][key] == ref["values"][key] for key in KEYS)
        worst = max(abs(ours["values"][key] - ref["values"][key]) for key in KEYS)
        identical = "yes" if same else f"no ({worst:.1e})"
        print(row(n, "package", ref, "", ""), flush=True)
        print(row(n, "bench", ours, identical, f"{ref['seconds'] / ours['seconds']:.1f}x"))
    for n in args.large:
        print(row(n, "bench", measure("bench", n, args.dim, args.k), "n/a", ""), flush=True)


if __name__ == "__main__":
    main()
