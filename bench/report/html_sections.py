"""The parts of one run's HTML report, per dataset: leaderboard, cost, stability per family,
metrics over training, sensitivity, each row's losses and pictures, the protocol. Every function
returns escaped HTML; the page around them is bench.report.html."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable
from html import escape
from pathlib import Path

from bench.plots import Band, Panel, panels_png
from bench.report.curves import evaluation_series, history_columns, seed_band
from bench.report.families import family_tables
from bench.report.markdown import ARROWS, COST_HEADER, cost_cells, leaderboard_cells, mean_std
from bench.results.folder import read_history
from bench.results.layout import HISTORY_FILE
from bench.results.protocol import shared_protocol
from bench.results.runs import RowKey, RunData, row_key
from bench.results.sensitivity import Sensitivity

ROLE_PANELS = {  # a diagnostic's declared role -> the panel it is drawn in
    "loss": "losses",
    "grad_norm": "gradient norms",
    "d_real": "D(x) and D(G(z))",
    "d_fake": "D(x) and D(G(z))",
    "other": "other diagnostics",
}
LOG_PANELS = {"gradient norms"}  # spans orders of magnitude (explosions, vanishing)
PICTURES = {  # a trial's pictures in reading order, with what each shows
    "samples": "generated samples (2-D: over the real data)",
    "neighbours": "generated images beside their nearest training images",
    "modes": "share of samples per mode, generated vs real",
    "traversal": "one latent unit swept per row, decoded",
}
PANEL_COLS = 3
KEYS_PER_TABLE = 7  # metric columns per table: fits a page in portrait


def table(
    header: list[str] | None,
    rows: list[list[str]],
    cls: str = "",
    strong: Callable[[str], bool] = lambda cell: False,
) -> str:
    """A plain escaped table (no header row when `header` is None) in a scrolling wrapper; cells
    `strong` picks are bold. Long metric names may break after an underscore, so narrow columns
    stay narrow."""
    head = "".join(f"<th>{escape(h).replace('_', '_<wbr>')}</th>" for h in header or [])
    head = f"<thead><tr>{head}</tr></thead>" if head else ""
    body = "".join(
        "<tr>"
        + "".join(
            f"<td><strong>{escape(c)}</strong></td>" if strong(c) else f"<td>{escape(c)}</td>"
            for c in cells
        )
        + "</tr>"
        for cells in rows
    )
    return f'<div class="scroll"><table class="{cls}">{head}<tbody>{body}</tbody></table></div>'


def wide_table(header: list[str], rows: list[list[str]], lead: int, cls: str = "") -> str:
    """A table of many metric columns as several tables of at most KEYS_PER_TABLE metrics, each
    repeating the `lead` columns that name the row: scrolling sideways hides columns on screen
    and cuts them off on paper."""
    keys = range(lead, len(header))
    size = math.ceil(len(keys) / max(1, math.ceil(len(keys) / KEYS_PER_TABLE)))  # even chunks
    chunks = [list(keys[i : i + size]) for i in range(0, len(keys), max(1, size))]
    return "".join(
        table(
            header[:lead] + [header[k] for k in chunk],
            [cells[:lead] + [cells[k] for k in chunk] for cells in rows],
            cls,
        )
        for chunk in chunks or [[]]
    )


def img(png: bytes, alt: str, cls: str = "") -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img class="{cls}" alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def anchor(*parts: str) -> str:
    return "-".join("".join(c if c.isalnum() else "_" for c in p) for p in parts)


def dataset_section(run: RunData, index: int, dataset: str) -> str:
    board = run.board
    parts = [
        f'<section id="{anchor(f"r{index}", dataset)}"><h2>{escape(dataset)}</h2>',
        "<h3>Leaderboard</h3>",
        wide_table(*leaderboard_cells(board, dataset), lead=4, cls="board"),
        cost_part(run, dataset),
        stability_tables(run, dataset),
        metric_curves(run, dataset),
        sensitivity_part(board.sensitivity, board.directions, dataset),
        rows_part(run, dataset),
        protocol_part(run, dataset),
        "</section>",
    ]
    return "\n".join(p for p in parts if p)


def cost_part(run: RunData, dataset: str) -> str:
    """What each row's trials cost: seconds per trial, steps/s, the share of the time spent
    evaluating and the most expensive metric (the leaderboard.md cost table)."""
    rows = [
        [row.model, row.variant, *cost_cells(row)]
        for row in run.board.rows
        if row.dataset == dataset and row.runs
    ]
    return "<h3>Cost</h3>" + table(COST_HEADER, rows, cls="cost") if rows else ""


def stability_tables(run: RunData, dataset: str) -> str:
    """Each section's table (e.g. training stability), one per model family, with the keys that
    family's rows have (bench.report.families, as leaderboard.md groups them)."""
    board = run.board
    parts = []
    for section in board.sections:
        for group in family_tables(board, dataset, section):
            header = ["model", "variant", "seeds ok"]
            header += [f"{k} {ARROWS[board.direction(k)]}" for k in group.keys]
            cells = [
                [r.model, r.variant, f"{r.completed}/{r.seeds}"]
                + [mean_std(r, k) for k in group.keys]
                for r in group.rows
            ]
            title = f"{section}: {group.heading}"
            parts += [f"<h3>{escape(title)}</h3>", wide_table(header, cells, 3, "stability")]
    return "\n".join(parts)


def row_label(key: RowKey) -> str:
    return key[1] if key[2] == "-" else f"{key[1]}, {key[2]}"


def metric_curves(run: RunData, dataset: str) -> str:
    """Every metric over training steps, one panel per metric, one band per row."""
    keys = [row_key(r) for r in run.board.rows if r.dataset == dataset]
    metrics = dict.fromkeys(
        k
        for key in keys
        for _, m in run.trials_of(key)
        for e in m.get("evaluations", [])
        for k in e.get("metrics", {})
    )
    panels = []
    for metric in metrics:
        bands = [metric_band(run, key, metric) for key in keys]
        bands = [b for b in bands if b is not None and len(b.steps) > 1]
        if bands:
            arrow = ARROWS.get(run.board.direction(metric), "") if metric in run.board.keys else ""
            panels.append(Panel(f"{metric} {arrow}".strip(), bands, ylabel=metric))
    if not panels:
        return ""
    png = panels_png(panels, PANEL_COLS)
    note = "<p>Mean ± std over seeds at every evaluation (the band is the seeds' spread).</p>"
    return f"<h3>Metrics over training</h3>{note}{img(png, f'{dataset}: metrics over training')}"


def metric_band(run: RunData, key: RowKey, metric: str) -> Band | None:
    series = [evaluation_series(m.get("evaluations", []), metric) for _, m in run.trials_of(key)]
    return seed_band(row_label(key), series)


def sensitivity_part(items: list[Sensitivity], directions: dict[str, str], dataset: str) -> str:
    """Mean final score per value of each grid hyperparameter: one panel per hyperparameter,
    one line per model, and the numbers beneath."""
    items = [s for s in items if s.dataset == dataset]
    if not items:
        return ""
    hparams = dict.fromkeys(s.hparam for s in items)
    panels = [sensitivity_panel([s for s in items if s.hparam == h], h) for h in hparams]
    rows = [
        [
            s.model,
            s.hparam,
            f"{s.metric} {ARROWS.get(directions.get(s.metric, ''), '')}",
            ", ".join(f"{k}: {v:.4g} (n={s.counts[k]})" for k, v in s.means.items()),
            f"{s.spread:.4g}",
        ]
        for s in items
    ]
    header = ["model", "hyperparameter", "metric", "mean per value", "range"]
    return (
        "<h3>Hyperparameter sensitivity</h3><p>Mean final score per value of each grid "
        "hyperparameter, over the other grid axes and the seeds.</p>"
        + img(panels_png(panels, PANEL_COLS), f"{dataset}: hyperparameter sensitivity", "narrow")
        + table(header, rows)
    )


def sensitivity_panel(items: list[Sensitivity], hparam: str) -> Panel:
    """Numbers on their own axis (log when they span decades, as learning rates do); anything
    else (lists, names) at evenly spaced named positions."""
    values = list(dict.fromkeys(v for s in items for v in s.means))
    parsed = [json.loads(v) for v in values]
    numeric = all(isinstance(p, int | float) and not isinstance(p, bool) for p in parsed)
    x = {v: float(p) for v, p in zip(values, parsed, strict=True)} if numeric else {}
    x = x or {v: float(i) for i, v in enumerate(values)}
    bands = [
        Band(s.model, [x[v] for v in s.means], list(s.means.values()))
        for s in sorted(items, key=lambda s: s.model)
    ]
    positive = [p for p in x.values() if p > 0] if numeric else []
    log_x = len(positive) == len(x) and max(positive) / min(positive) >= 20
    ticks = None if numeric else values
    metric = items[0].metric
    return Panel(f"{metric} by {hparam}", bands, metric, hparam, log_x=log_x, xticks=ticks)


def rows_part(run: RunData, dataset: str) -> str:
    """Per row: its losses and diagnostics over steps, then its first seed's pictures."""
    keys = [row_key(r) for r in run.board.rows if r.dataset == dataset]
    parts = [row_part(run, key) for key in keys]
    return "<h3>Rows: training curves and pictures</h3>" + "\n".join(parts)


def row_part(run: RunData, key: RowKey) -> str:
    trials = run.trials_of(key)
    head = f'<div class="row"><h4>{escape(row_label(key))}</h4>'
    if not trials:
        return head + "<p>no trial files</p></div>"
    histories = [history_columns(read_history(run.trial_dir(t) / HISTORY_FILE)) for t, _ in trials]
    curves = loss_curves(trials[0][0].model, histories, row_label(key))
    first = trials[0][0]
    pictures = pictures_part(run.trial_dir(first), f"{row_label(key)}", first.seed)
    return head + curves + pictures + "</div>"


def roles_of(model: str) -> dict[str, str]:
    """The role each logged key of `model` plays, as the model declares it."""
    from bench.models import MODELS

    declared = MODELS.get(model).diagnostics if model in MODELS else {}
    return {k: d.role for k, d in declared.items()}


def loss_curves(model: str, histories: list[dict], label: str) -> str:
    """One image: a panel per role (losses, gradient norms, D outputs, others), each logged key
    a band over the seeds, binned to at most 200 points."""
    roles = roles_of(model)
    columns = dict.fromkeys(c for h in histories for c in h if c != "step")
    groups: dict[str, list[Band]] = {}
    for column in columns:
        series = [(h["step"], h[column]) for h in histories if column in h and "step" in h]
        band = seed_band(column, series)
        if band is not None:
            groups.setdefault(ROLE_PANELS[roles.get(column, "other")], []).append(band)
    order = list(dict.fromkeys(ROLE_PANELS.values()))
    panels = [
        Panel(name, groups[name], log_y=name in LOG_PANELS and positive(groups[name]))
        for name in order
        if name in groups
    ]
    if not panels:
        return "<p>no training history recorded</p>"
    png = panels_png(panels, PANEL_COLS)
    return img(png, f"{label}: losses and diagnostics over training steps")


def positive(bands: list[Band]) -> bool:
    return all(v > 0 for b in bands for v in b.mean if not math.isnan(v))


def pictures_part(folder: Path, label: str, seed: int) -> str:
    """Every PNG the trial left, the known ones first in reading order, captioned."""
    order = list(PICTURES)
    files = sorted(
        folder.glob("*.png"),
        key=lambda p: (order.index(p.stem) if p.stem in PICTURES else len(order), p.stem),
    )
    figures = [
        f"<figure>{img(f.read_bytes(), f'{label}, seed {seed}: {f.stem}')}"
        f"<figcaption><b>{escape(f.name)}</b>: {escape(PICTURES.get(f.stem, f.stem))}; "
        f"seed {seed}</figcaption></figure>"
        for f in files
    ]
    return f'<div class="pictures">{"".join(figures)}</div>' if figures else ""


def protocol_part(run: RunData, dataset: str) -> str:
    """How the dataset's numbers were measured (metrics.json `protocol`), fields the trials
    agree on in one table, any that vary named."""
    keys = [row_key(r) for r in run.board.rows if r.dataset == dataset]
    protocols = [p for key in keys for p in run.protocols(key)]
    head = "<h3>Protocol</h3>"
    if all(p is None for p in protocols):
        return head + (
            "<p>Not recorded: this run's metrics.json files carry no <code>protocol</code> "
            "(made before bench recorded it), so the measurement settings are unknown.</p>"
        )
    agreed, varying = shared_protocol(protocols)
    parts = [head, table(["field", "value"], [[k, v] for k, v in agreed.items()], "protocol")]
    if varying:
        parts.append(f"<p>Varies between rows or seeds: {escape(', '.join(varying))}.</p>")
    if any(p is None for p in protocols):
        parts.append("<p>Some trials recorded no protocol (unknown for those).</p>")
    return "".join(parts)
