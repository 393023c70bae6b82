"""The README stays true: its registry tables are exactly what `bench list KIND --format md`
prints (regenerate them with that command), and CI runs its test command."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.cli.common import Kind
from bench.cli.inspect import markdown_table, registry_table

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def section_table(heading: str) -> str:
    section = README.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"^\|.*\|\n\|[-|]+\|\n(?:\|.*\|\n)*", section, flags=re.MULTILINE)
    assert found, f"no table under ## {heading}"
    return found.group(0).rstrip("\n")


@pytest.mark.parametrize(
    ("heading", "kind"),
    [
        ("Models", Kind.models),
        ("Datasets", Kind.datasets),
        ("Feature spaces", Kind.feature_spaces),
        ("Metrics", Kind.metrics),
    ],
)
def test_readme_tables_are_what_bench_list_prints(heading, kind):
    assert section_table(heading) == markdown_table(*registry_table(kind))


def test_ci_runs_the_readme_test_command():
    commands = re.findall(r"```bash\n(.+?)\n```", README, flags=re.DOTALL)
    test_command = commands[1].strip()
    assert test_command in (ROOT / ".ci" / "run").read_text().splitlines()
