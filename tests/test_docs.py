"""The README stays true: every registered name is in its tables, and CI runs its test command."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.data import DATASETS
from bench.metrics import METRICS
from bench.models import MODELS

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def table_names(heading: str) -> set[str]:
    section = README.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([^`]+)` \|", section, flags=re.MULTILINE))


@pytest.mark.parametrize(
    ("heading", "registry"), [("Models", MODELS), ("Datasets", DATASETS), ("Metrics", METRICS)]
)
def test_every_registered_name_is_documented(heading, registry):
    assert table_names(heading) == set(registry.names())


def test_ci_runs_the_readme_test_command():
    commands = re.findall(r"```bash\n(.+?)\n```", README, flags=re.DOTALL)
    test_command = commands[1].strip()
    assert test_command in (ROOT / ".ci" / "run").read_text().splitlines()
