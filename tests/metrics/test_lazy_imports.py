"""Heavy libraries load when a function needs them, not when bench's packages are imported: a
worker that trains a 2-D GAN never pays for torchvision, scipy or scikit-learn (issue 13)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = {"torch_fidelity", "torchvision", "scipy", "sklearn", "matplotlib", "ray", "wandb"}
BENCH = Path(__file__).resolve().parents[2] / "bench"
# Modules whose module-level imports are checked: the model and data packages, the feature
# spaces, the probes and the metrics that read them.
CHECKED = [
    *sorted((BENCH / "models").glob("*.py")),
    *sorted((BENCH / "data").glob("*.py")),
    *sorted((BENCH / "metrics" / "features").glob("*.py")),
    *sorted((BENCH / "metrics").glob("*.py")),
    *sorted((BENCH / "suite").glob("*.py")),
    *sorted((BENCH / "probes").glob("*.py")),
]


def module_level_imports(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, module) of every import outside functions, classes and `if TYPE_CHECKING:`."""
    found: list[tuple[int, str]] = []
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.lineno, node.module))
        for field in ("body", "orelse", "handlers", "finalbody"):
            pending += getattr(node, field, []) or []
    return found


@pytest.mark.parametrize("path", CHECKED, ids=lambda p: str(p.relative_to(BENCH)))
def test_no_heavy_library_is_imported_at_module_level(path: Path) -> None:
    heavy = [
        f"{path.name}:{line} imports {module}"
        for line, module in module_level_imports(ast.parse(path.read_text()))
        if module.split(".")[0] in HEAVY
    ]
    assert heavy == []


def test_importing_the_model_and_data_packages_loads_no_heavy_library() -> None:
    code = (
        "import sys, bench.models, bench.data; "
        f"print(sorted(m for m in {sorted(HEAVY)!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_loading_every_registry_and_a_suite_loads_no_heavy_library() -> None:
    """What `bench validate`, `bench list` and `bench run --dry-run` import before they answer."""
    code = (
        "import sys; from bench.plugins import load_registries; load_registries(); "
        "import bench.suite, bench.cli; "
        f"print(sorted(m for m in {sorted(HEAVY)!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
