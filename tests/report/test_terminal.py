"""The leaderboard printed when a run finishes: readable in a CI log or a pipe, where rich would
fold a wide table at 80 columns and break its numbers across lines, and in a narrow terminal."""

from __future__ import annotations

import io
import re

from rich.console import Console

from bench.report.markdown import leaderboard_cells
from bench.report.terminal import TERMINAL_KEYS, print_leaderboard
from bench.results.aggregate import Leaderboard, Row


def wide_board(names: list[str]) -> Leaderboard:
    """Rows of long numbers (mean ± std over three seeds) under the metrics `names`."""
    rows = [
        Row(
            "ring8",
            f"model_{m}",
            f"lr=0.000{m + 1}, hidden=256",
            3,
            {"completed": 3},
            {k: [1234.56789 + m + i, 1234.6789 + 2 * i, 1299.123] for i, k in enumerate(names)},
            [],
            primary=names[0],
            direction="min",
            rank=m + 1,
        )
        for m in range(3)
    ]
    return Leaderboard("wide / 20260101-000000-aaaa", rows, dict.fromkeys(names, "min"))


def printed(board: Leaderboard, console: Console) -> list[str]:
    print_leaderboard(board, console)
    return re.sub(r"\x1b\[[\d;]*m", "", console.file.getvalue()).splitlines()


def cells_of(line: str) -> list[str]:
    return [c.strip() for c in re.split(r"[|│┃]", line.strip("|│┃ "))]


def test_without_a_terminal_every_cell_is_whole_on_its_row_line():
    names = [f"metric_with_a_long_name_{i}" for i in range(TERMINAL_KEYS + 3)]
    board = wide_board(names)
    console = Console(file=io.StringIO(), force_terminal=False)  # as in a CI log or a pipe
    lines = printed(board, console)
    header, rows = leaderboard_cells(board, "ring8", names[:TERMINAL_KEYS], best=True, spread=False)
    assert console.width == 80 and max(map(len, lines)) > 80  # rich would have folded it
    assert cells_of(lines[2]) == header
    assert [cells_of(line) for line in lines[4:7]] == rows  # every cell whole, one line a row
    assert "1256 ± 37" in rows[0]  # the cells are numbers with their spread
    assert lines[1] == "ring8 (+3 more metrics in leaderboard.md / .csv)"
    assert "\x1b[" not in console.file.getvalue()  # no colour codes in a log


def test_a_terminal_shows_the_metrics_that_fit_without_folding_a_number():
    names = ["fid", "kid", "precision", "recall", "coverage", "density", "modes"]
    board = wide_board(names)
    console = Console(file=io.StringIO(), force_terminal=True, width=100)
    lines = printed(board, console)
    assert max(map(len, lines)) <= 100
    header = cells_of(next(line for line in lines if "rank" in line))
    shown = [name for name in names if f"{name} ↓" in header]
    assert 1 <= len(shown) < TERMINAL_KEYS  # fewer than a wide terminal gets, the first ones
    assert shown == names[: len(shown)]
    assert f"(+{len(names) - len(shown)} more metrics in leaderboard.md / .csv)" in lines[1]
    _, rows = leaderboard_cells(board, "ring8", shown, best=True, spread=False)
    body = [cells_of(line) for line in lines if line.startswith("│")]
    assert body == rows  # one line a row: nothing folded


def test_a_wide_terminal_shows_up_to_the_usual_number_of_metrics():
    names = ["fid", "kid", "precision", "recall", "coverage", "density", "modes"]
    console = Console(file=io.StringIO(), force_terminal=True, width=250)
    header = cells_of(next(line for line in printed(wide_board(names), console) if "rank" in line))
    assert [h for h in header if h.removesuffix(" ↓") in names] == [
        f"{n} ↓" for n in names[:TERMINAL_KEYS]
    ]
