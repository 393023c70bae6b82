"""Every committed record under results/published/ re-aggregates to its committed leaderboard.

The committed leaderboards were written before the leaderboard gained the best-evaluation
columns (ranked_by, best_*, protocol), the cost columns and section (s_per_trial, steps/s,
...), and before each section (training stability) was split into one table per model family
under a `### <family>` heading. Those additions are left out of the comparison; everything the
committed files hold must come back byte for byte: every committed CSV column of every row, in
order, and the Markdown with the added column, the `## Cost:` sections and the family headings
removed (every committed record has one family per dataset, so its one stability table still
comes back whole, with the same columns). The title line names the run id from
run.json (no timestamp of writing), so it is compared too."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from bench.report.markdown import leaderboard_markdown
from bench.results.aggregate import aggregate

PUBLISHED = Path(__file__).resolve().parents[2] / "results" / "published"
RECORDS = sorted(p for p in PUBLISHED.iterdir() if (p / "trials").is_dir())
ADDED_SECTION = "## Cost:"
ADDED_COLUMN = "best "
ADDED_HEADING = "### "  # a model family's table within a section


def csv_rows(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    return list(reader.fieldnames or []), list(reader)


def without_added(markdown: str) -> str:
    """The Markdown leaderboard as the committed renderer wrote it."""
    kept: list[str] = []
    skipping = False
    drop: list[int] = []
    heading = False
    for line in markdown.splitlines(keepends=True):
        if line.startswith("## "):
            skipping = line.startswith(ADDED_SECTION)
        if skipping or line.startswith(ADDED_HEADING) or (heading and not line.strip()):
            heading = line.startswith(ADDED_HEADING)  # and the blank line after it
            continue
        if line.startswith("| "):
            cells = line.rstrip("\n").strip("|").split("|")
            names = [c.strip() for c in cells]
            if any(n.startswith(ADDED_COLUMN) for n in names):
                drop = [i for i, n in enumerate(names) if n.startswith(ADDED_COLUMN)]
        elif line.startswith("|---"):
            cells = line.rstrip("\n").strip("|").split("|")
        else:
            drop = [] if not line.strip() else drop
            kept.append(line)
            continue
        cells = [c for i, c in enumerate(cells) if i not in drop]
        kept.append("|" + "|".join(cells) + "|\n")
    return "".join(kept)


def test_there_are_committed_records() -> None:
    assert len(RECORDS) >= 3


@pytest.mark.parametrize("record", RECORDS, ids=[p.name for p in RECORDS])
def test_a_record_reaggregates_to_its_committed_csv(record: Path) -> None:
    columns, committed = csv_rows((record / "leaderboard.csv").read_text(encoding="utf-8"))
    new_columns, rebuilt = csv_rows(aggregate(record).to_csv())
    assert new_columns[: len(columns)] == columns  # added columns come after the committed ones
    assert [{c: row[c] for c in columns} for row in rebuilt] == committed


@pytest.mark.parametrize("record", RECORDS, ids=[p.name for p in RECORDS])
def test_a_record_reaggregates_to_its_committed_markdown(record: Path) -> None:
    committed = (record / "leaderboard.md").read_text(encoding="utf-8")
    assert without_added(leaderboard_markdown(aggregate(record))) == committed
