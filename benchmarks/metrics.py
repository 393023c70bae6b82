"""Speed and peak memory of bench's KID and prdc against their references: torch-fidelity's
`kid_features_to_metric` and the `prdc` package (Naeem et al.'s code).

    python benchmarks/metrics.py [--kid 2000x2 10000x2048] [--prdc 5000 10000] [--dim 2048]
                                 [--large 50000] [--k 5] [--threads N]

Features are standard-normal float64 (N, d) arrays (float64 is what bench's feature spaces
produce), the same arrays for both implementations, N real and N generated rows; KID's
generated rows are shifted by 0.1 so that its value is well away from 0. KID runs with
torch-fidelity's defaults (100 subsets of 1000), prdc with k = 5. Every case runs in a fresh
subprocess that generates its data, times the one call and reports its own peak resident set
size (getrusage ru_maxrss, inputs and imports included; "call" is that peak less the resident
size just before the call), so no case inherits another's memory. Prints one table: seconds,
peak RSS, the values, whether bench's values equal the reference's (prdc: exactly; KID: to
1e-9 of the KID value, with the largest difference), and the speed-up.
`--large` adds bench-only prdc rows (the package would need several N x N matrices; 50,000
takes minutes). Not a test: timings are never asserted anywhere. Threads: library defaults (all
cores), or `--threads N` for every library."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np
import torch

KID_KEYS = ("kid", "kid_std")
PRDC_KEYS = ("precision", "recall", "density", "coverage")
REFERENCE = {"kid": "torch-fidelity", "prdc": "package"}
KID_TOLERANCE = 1e-9  # relative


def features(n: int, dim: int, seed: int, shift: float = 0.0) -> np.ndarray:
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(n, dim, generator=gen, dtype=torch.float64) + shift).numpy()


def kid_values(impl: str, real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    if impl == "bench":
        from bench.metrics.fidelity import kid

        mean, std = kid(real, fake)
        return {"kid": mean, "kid_std": std}
    from torch_fidelity.metric_kid import kid_features_to_metric

    size = min(1000, len(real))  # bench clamps the subset size itself; torch-fidelity refuses
    out = kid_features_to_metric(
        torch.from_numpy(real), torch.from_numpy(fake), kid_subset_size=size, verbose=False
    )
    return {
        "kid": out["kernel_inception_distance_mean"],
        "kid_std": out["kernel_inception_distance_std"],
    }


def prdc_values(impl: str, real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    if impl == "bench":
        from bench.metrics.diversity import prdc

        return prdc(real, fake, k)
    from prdc import compute_prdc

    with contextlib.redirect_stdout(sys.stderr):  # it prints the set sizes
        return {key: float(value) for key, value in compute_prdc(real, fake, k).items()}


VALUES = {"kid": kid_values, "prdc": prdc_values}


def run_case(metric: str, impl: str, n: int, dim: int, k: int) -> dict:
    """One measurement, in this (fresh) process."""
    # Imports and data generation stay outside the timing.
    import prdc  # noqa: F401
    import torch_fidelity.metric_kid  # noqa: F401

    import bench.metrics  # noqa: F401

    shift = 0.1 if metric == "kid" else 0.0
    real, fake = features(n, dim, seed=1), features(n, dim, seed=2, shift=shift)
    before = resident_gib()
    start = time.perf_counter()
    values = VALUES[metric](impl, real, fake, k)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    return {"seconds": seconds, "peak_gib": peak, "call_gib": peak - before, "values": values}


def resident_gib() -> float:
    """This process's resident set size now (Linux)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**30


def measure(metric: str, impl: str, n: int, dim: int, k: int) -> dict:
    cmd = [sys.executable, __file__, "--case", metric, impl, str(n), str(dim), "--k", str(k)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=os.environ)
    return json.loads(out.stdout.strip().splitlines()[-1])


def limit_threads(threads: int) -> None:
    """Every BLAS and OpenMP pool of the case processes (and torch's here) to `threads`: on a
    shared machine, one thread per case is not slowed by waiting for a descheduled partner."""
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = str(threads)
    torch.set_num_threads(threads)


def agreement(metric: str, ours: dict[str, float], ref: dict[str, float]) -> str:
    """prdc: identical values; KID: the largest difference relative to the reference's KID
    (its std may be round-off of an exact 0, so relative to itself says nothing), and whether it
    is within KID_TOLERANCE."""
    if metric == "prdc":
        return "yes" if ours == ref else "no"
    worst = max(abs(ours[key] - ref[key]) for key in KID_KEYS) / abs(ref["kid"])
    return f"{'yes' if worst <= KID_TOLERANCE else 'no'} (rel {worst:.0e})"


WIDTHS = (6, 11, 14, 8, 8, 8, 76, 15, 8)  # metric, N x d, impl, seconds, GiB x 2, values, ...


def line(*cells: str) -> str:
    return " | ".join(f"{cell:{width}}" for cell, width in zip(cells, WIDTHS, strict=True))


def row(metric: str, data: str, impl: str, result: dict, identical: str, speedup: str) -> str:
    shown = ", ".join(f"{key} {value:.10g}" for key, value in result["values"].items())
    seconds = f"{result['seconds']:8.2f}"
    peak, call = f"{result['peak_gib']:8.2f}", f"{result['call_gib']:8.2f}"
    return line(metric, data, impl, seconds, peak, call, shown, identical, speedup)


def compare(metric: str, n: int, dim: int, k: int) -> None:
    """The reference and bench on the same case, two rows."""
    ref = measure(metric, "reference", n, dim, k)
    ours = measure(metric, "bench", n, dim, k)
    data = f"{n} x {dim}"
    print(row(metric, data, REFERENCE[metric], ref, "", ""), flush=True)
    same = agreement(metric, ours["values"], ref["values"])
    speedup = f"{ref['seconds'] / ours['seconds']:.1f}x"
    print(row(metric, data, "bench", ours, same, speedup), flush=True)


def shape(text: str) -> tuple[int, int]:
    n, _, dim = text.partition("x")
    return int(n), int(dim)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kid", type=shape, nargs="*", default=[(2000, 2), (10000, 2048)])
    parser.add_argument("--prdc", type=int, nargs="*", default=[5000, 10000])
    parser.add_argument("--dim", type=int, default=2048, help="prdc's feature width")
    parser.add_argument("--large", type=int, nargs="*", default=[], help="bench-only prdc sizes")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--threads", type=int, help="threads per case (default: all cores)")
    parser.add_argument("--case", nargs=4, metavar=("METRIC", "IMPL", "N", "D"), help="internal")
    args = parser.parse_args()
    if args.case:
        metric, impl, n, dim = args.case
        print(json.dumps(run_case(metric, impl, int(n), int(dim), args.k)))
        return

    if args.threads:
        limit_threads(args.threads)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"KID (100 subsets of 1000) and prdc (k={args.k}); N real = N generated rows")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average {load}")
    columns = (" seconds", "peak GiB", "call GiB", "values", "identical", "speed-up")
    print(line("metric", "N x d", "impl", *columns))
    for n, dim in args.kid:
        compare("kid", n, dim, args.k)
    for n in args.prdc:
        compare("prdc", n, args.dim, args.k)
    for n in args.large:
        data = f"{n} x {args.dim}"
        print(row("prdc", data, "bench", measure("prdc", "bench", n, args.dim, args.k), "", ""))


if __name__ == "__main__":
    main()
