"""The leaderboard as a terminal table (rich): the first few metrics of each dataset, the best of
its ranking metric with its step, seconds per trial and steps per second; errors below."""

from __future__ import annotations

from bench.report.markdown import cost_cells, leaderboard_cells


def print_leaderboard(board, console) -> None:
    from rich.markup import escape
    from rich.table import Table

    console.print(f"[bold]Leaderboard: {board.title}[/bold]")
    if board.incomplete:
        console.print(f"[yellow]incomplete: {board.incomplete}[/yellow]")
    for dataset in board.datasets():
        keys = [k for k in board.keys_for(dataset) if not k.endswith("_std")]
        # the best score without its std: the terminal is narrow, the files have it all
        shown = keys[:TERMINAL_KEYS]
        header, rows = leaderboard_cells(board, dataset, shown, best=True, spread=False)
        members = [r for r in board.rows if r.dataset == dataset]
        if any(row.runs for row in members):  # trials of a run, not samples measured alone
            header += ["s/trial", "steps/s"]
            rows = [cells + cost_cells(row)[:2] for cells, row in zip(rows, members, strict=True)]
        hidden = len(keys) - TERMINAL_KEYS
        note = f" (+{hidden} more metrics in leaderboard.md / .csv)" if hidden > 0 else ""
        table = Table(title=dataset + note, title_justify="left")
        for name in header:
            table.add_column(name, overflow="fold")
        for cells in rows:
            table.add_row(*cells)
        console.print(table)
    for error in (e for row in board.rows for e in row.errors):
        console.print(f"[red]not completed[/red] {escape(error)}", highlight=False)


TERMINAL_KEYS = 6  # metric columns a terminal table shows; the files have them all
