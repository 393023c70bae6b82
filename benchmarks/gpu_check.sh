#!/usr/bin/env bash
# The GPU check for a machine with CUDA (issue 13): CUDA tests, trial packing (gpu: 0.25 vs 1),
# bench's DCGAN step against a bare PyTorch loop, prdc and memorization at 50k x 2048-d on the
# GPU. Prints one table in under 8 minutes. Run from the repository root on the GPU machine:
#   bash benchmarks/gpu_check.sh
# It needs bench's dependencies there; packages the machine lacks (ray, wandb, torch-fidelity,
# mlxtend, pydantic ...) can be carried as wheels in .whl/ and are installed from there first.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --target /tmp/bench-site .whl/*.whl
  export PYTHONPATH="/tmp/bench-site:${PYTHONPATH:-}"
fi
export PYTHONPATH="$PWD:${PYTHONPATH:-}" WANDB_MODE=disabled RAY_USAGE_STATS_ENABLED=0
exec timeout 480 python3 benchmarks/gpu_check.py "$@"
