"""`bench report`: one self-contained HTML file for one or more runs (report.html).

Self-contained because a report is mailed, attached to an issue or archived beside the run: images
are inlined as data: URIs, the CSS is inline, nothing is fetched, and no script is needed to read
it (one tiny script only records, after load, how many images decoded, for tests and for anyone
who wants to check). Every text that came from a file is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from html import escape
from pathlib import Path

from bench.errors import BenchError
from bench.io import write_text
from bench.report.html_agreement import agreement_section
from bench.report.html_reproduction import reproduction_section
from bench.report.html_sections import anchor, dataset_section, table
from bench.results.runs import RunData, load_run

REPORT_FILE = "report.html"

CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
  color: #1d1d1f; max-width: 1200px; margin: 0 auto; padding: 1.5em 2em 4em; }
h1 { font-size: 1.7em; margin-bottom: .2em; }
h2 { font-size: 1.35em; border-bottom: 2px solid #d0d7de; padding-bottom: .2em; margin-top: 2em; }
h3 { font-size: 1.1em; margin: 1.6em 0 .5em; }
h4 { font-size: 1em; margin: 1.2em 0 .4em; }
.meta, figcaption, .note { color: #57606a; font-size: .9em; }
nav { background: #f6f8fa; border: 1px solid #d0d7de; padding: .5em 1em; border-radius: 6px; }
nav a { margin-right: 1em; }
.scroll { overflow-x: auto; margin: .4em 0 1em; }
table { border-collapse: collapse; font-size: .85em; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #d0d7de; padding: .25em .55em; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
tbody tr:nth-child(even) { background: #fafbfc; }
table.board td:nth-child(n+5), table.stability td:nth-child(n+4) { white-space: nowrap; }
img { max-width: 100%; height: auto; }
img.narrow { max-width: 70%; }
.pictures { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }
figure { margin: 0; max-width: 31%; }
figure img { border: 1px solid #d0d7de; }
table.compare tr:has(td:first-child:not(:empty)) td { border-top: 2px solid #8c959f; }
.row { border-top: 1px solid #eaeef2; padding-top: .3em; }
.loud { color: #b42318; font-weight: 600; }
code { background: #f6f8fa; padding: 0 .2em; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  nav { display: none; }
  .scroll { overflow: visible; }
  table { font-size: 7.5pt; }
  .row, figure, tr, img { break-inside: avoid; }
  h2, h3, h4 { break-after: avoid; }
}
"""

# Records how many images decoded once everything has loaded (<html data-images="ok/total">):
# the page reads the same without it.
SCRIPT = """
window.addEventListener("load", function () {
  var ok = 0, all = document.images;
  for (var i = 0; i < all.length; i++) { if (all[i].complete && all[i].naturalWidth > 0) ok++; }
  document.documentElement.setAttribute("data-images", ok + "/" + all.length);
});
"""


def write_report(run_dirs: Sequence[Path], output: Path | None = None) -> Path:
    """Write the HTML report of `run_dirs` (run folders, or results/<suite> for the newest run)
    to `output` (default: RUN_DIR/report.html for one run) and return its path."""
    if not run_dirs:
        raise BenchError("no run folder given", fix="bench report RUN_DIR [RUN_DIR …]")
    if output is None and len(run_dirs) > 1:
        raise BenchError(
            "a report of several runs has no single run folder to live in",
            fix="name the file with -o, e.g. -o comparison.html",
        )
    runs = [load_run(path) for path in run_dirs]
    path = Path(output) if output is not None else runs[0].path / REPORT_FILE
    return write_text(path, report_html(runs))


def report_html(runs: Sequence[RunData]) -> str:
    title = runs[0].title if len(runs) == 1 else f"{len(runs)} runs compared"
    made = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    body = [
        f"<h1>bench report: {escape(title)}</h1>",
        f'<p class="meta">written {made} by <code>bench report</code>; every number is read '
        "from the run folders' trial files.</p>",
        contents(runs),
    ]
    if len(runs) > 1:
        body.append(comparison_section(runs))
    body += [run_section(run, i, several=len(runs) > 1) for i, run in enumerate(runs)]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head>\n<body>\n"
        + "\n".join(body)
        + f"\n<script>{SCRIPT}</script>\n</body></html>\n"
    )


def label(index: int) -> str:
    """Run A, B, C…: the letters bench compare gives the runs, in the order given."""
    return chr(ord("A") + index)


def contents(runs: Sequence[RunData]) -> str:
    links = ['<a href="#comparison">comparison</a>'] if len(runs) > 1 else []
    for i, run in enumerate(runs):
        prefix = f"run {label(i)}: " if len(runs) > 1 else ""
        links += [
            f'<a href="#{anchor(f"r{i}", d)}">{escape(prefix + d)}</a>'
            for d in run.board.datasets()
        ]
        links.append(f'<a href="#{anchor(f"r{i}", "run")}">{escape(prefix)}run and versions</a>')
    return f"<nav>Contents: {' '.join(links)}</nav>"


def run_section(run: RunData, index: int, several: bool) -> str:
    """One run: its datasets, then what did not complete, then the run's facts and versions."""
    head = f"<h1>Run {label(index)}: {escape(run.title)}</h1>" if several else ""
    notice = ""
    if run.board.incomplete:
        notice = f'<p class="loud">Incomplete: {escape(run.board.incomplete)}</p>'
    legend = (
        '<p class="note">Final metrics, mean ± std over the completed seeds; ↓ lower is better, '
        "↑ higher is better. Ranked by each dataset's first metric.</p>"
    )
    datasets = [dataset_section(run, index, d) for d in run.board.datasets()]
    parts = [head, notice, legend, *datasets, agreement_section(run)]
    parts += [reproduction_section(run.path), failures(run)]
    return "\n".join([*parts, run_facts(run, index)])


def failures(run: RunData) -> str:
    errors = [e for row in run.board.rows for e in row.errors]
    if not errors:
        return ""
    items = "".join(f"<li><code>{escape(e)}</code></li>" for e in errors)
    return f"<h2>Trials that did not complete</h2><ul>{items}</ul>"


def run_facts(run: RunData, index: int) -> str:
    """run.json: where, when, status, counts and the versions the run was made with."""
    meta = run.meta
    facts = [
        ["run folder", str(run.path)],
        ["suite", run.suite],
        ["status", str(meta.get("status", "?"))],
        ["started", str(meta.get("started", "?"))],
        ["finished", str(meta.get("finished") or "—")],
        ["host", str(meta.get("host", "?"))],
        ["trials", str(meta.get("trials", "?"))],
    ]
    facts += [[f"version: {k}", str(v)] for k, v in (meta.get("versions") or {}).items()]
    return (
        f'<section id="{anchor(f"r{index}", "run")}"><h2>Run and versions</h2>'
        f"{table(None, facts, 'facts')}</section>"
    )


def comparison_section(runs: Sequence[RunData]) -> str:
    """bench compare's tables, or why these runs cannot be compared."""
    from bench.report.comparison import comparison_cells, grouped, loud
    from bench.results.comparison import ALPHA, compare_runs

    head = '<section id="comparison"><h2>Comparison</h2>'
    try:
        comparison = compare_runs(runs)
    except BenchError as exc:
        return f'{head}<p class="loud">Not compared: {escape(exc.message())}</p></section>'
    parts = [head, "<ul>"]
    parts += [f"<li>{escape(note)}</li>" for note in comparison.notes]
    parts.append(
        f'</ul><p class="note">Mean ± std (n) over completed seeds; each run\'s difference '
        f"from run A; Welch's two-sided t-test over the seeds, significant at p &lt; {ALPHA}.</p>"
    )
    for dataset in comparison.datasets():
        protocols = "; ".join(comparison.protocols.get(dataset, []))
        parts += [
            f"<h3>{escape(dataset)}</h3>",
            f'<p class="note">Protocol {escape(protocols)}.</p>',
        ]
        header, rows = comparison_cells(comparison, dataset)
        parts.append(table(header, grouped(rows), "compare", strong=loud))
    return "\n".join(parts) + "</section>"
