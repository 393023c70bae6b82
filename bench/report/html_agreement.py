"""The HTML report's rank-agreement section (bench.results.agreement): per dataset, whether
likelihood and the ranking key order the models the same way."""

from __future__ import annotations

from html import escape

from bench.report.agreement import AGREEMENT_NOTE, HEADER, agreement_cells
from bench.report.html_sections import table
from bench.results.agreement import rank_agreement
from bench.results.runs import RunData


def agreement_section(run: RunData) -> str:
    items = rank_agreement(run.board)
    if not items:
        return ""
    head = "<h2>Do likelihood and sample quality rank the models the same way?</h2>"
    note = f'<p class="note">{escape(AGREEMENT_NOTE)}</p>'
    return head + note + table(HEADER, [agreement_cells(i) for i in items])
