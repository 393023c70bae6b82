"""The leaderboard as a terminal table (rich): the first few metrics of each dataset, the best of
its ranking metric with its step, seconds per trial and steps per second; errors below. No cell is
ever folded across lines (a number broken in two reads as two numbers): a terminal shows as many
metric columns as fit its width, and where the console is no terminal (a CI log, a pipe, whose
width rich guesses as 80) the cells are a plain aligned Markdown table, one line per row."""

from __future__ import annotations

from bench.report.markdown import cost_cells, leaderboard_cells

TERMINAL_KEYS = 6  # metric columns a terminal table shows at most; the files have them all
UNBOUNDED = 100_000  # a width no table reaches


def print_leaderboard(board, console) -> None:
    from rich.markup import escape

    plain = not console.is_terminal
    console.print(f"[bold]Leaderboard: {escape(board.title)}[/bold]", soft_wrap=plain)
    if board.incomplete:
        console.print(f"[yellow]incomplete: {escape(board.incomplete)}[/yellow]", soft_wrap=plain)
    for dataset in board.datasets():
        if plain:
            title, header, rows = dataset_cells(board, dataset, TERMINAL_KEYS)
            console.out("\n".join([title, *plain_table(header, rows), ""]), highlight=False)
        else:
            console.print(fitting_table(board, dataset, console))
    for error in (e for row in board.rows for e in row.errors):
        console.print(f"[red]not completed[/red] {escape(error)}", highlight=False, soft_wrap=plain)


def dataset_cells(board, dataset: str, shown: int) -> tuple[str, list[str], list[list[str]]]:
    """The title, header and rows of one dataset's table with its first `shown` metrics."""
    keys = [k for k in board.keys_for(dataset) if not k.endswith("_std")]
    # the best score without its std: the terminal is narrow, the files have it all
    header, rows = leaderboard_cells(board, dataset, keys[:shown], best=True, spread=False)
    members = [r for r in board.rows if r.dataset == dataset]
    if any(row.runs for row in members):  # trials of a run, not samples measured alone
        header += ["s/trial", "steps/s"]
        rows = [cells + cost_cells(row)[:2] for cells, row in zip(rows, members, strict=True)]
    hidden = len(keys) - shown
    note = f" (+{hidden} more metrics in leaderboard.md / .csv)" if hidden > 0 else ""
    return dataset + note, header, rows


def fitting_table(board, dataset: str, console):
    """The rich table of the most metrics (up to TERMINAL_KEYS, at least the ranking one) that
    fits the terminal unwrapped; only a terminal too narrow for even that one folds."""
    from rich.measure import Measurement
    from rich.table import Table

    for shown in range(TERMINAL_KEYS, 0, -1):
        title, header, rows = dataset_cells(board, dataset, shown)
        table = Table(title=title, title_justify="left")
        for name in header:
            table.add_column(name, overflow="fold")
        for cells in rows:
            table.add_row(*cells)
        unbounded = console.options.update_width(UNBOUNDED)  # its width with nothing folded
        if Measurement.get(console, unbounded, table).maximum <= console.width:
            break
    return table


def plain_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table padded to align its columns, one line per row however wide."""
    from rich.cells import cell_len

    widths = [max(cell_len(c) for c in column) for column in zip(header, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        padded = (c + " " * (w - cell_len(c)) for c, w in zip(cells, widths, strict=True))
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return [line(header), rule, *(line(cells) for cells in rows)]
