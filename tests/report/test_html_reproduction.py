"""The report shows a reproduction's verdicts over training with their plots, when there is one."""

from __future__ import annotations

import json

from bench.io import write_json
from bench.plots import Band, curves_png
from bench.report.html_reproduction import reproduction_section


def test_no_reproduction_no_section(tmp_path):
    assert reproduction_section(tmp_path) == ""


def test_each_entry_gets_its_verdict_trend_and_plot(tmp_path):
    comparison = {
        "model": "gan",
        "dataset": "ring8",
        "metric": "modes",
        "published": 6.3,
        "published_se": 0.5,
        "bench_mean": 8.0,
        "n": 3,
        "verdict": "mismatch",
        "first_match_step": 1500,
        "trend": "widening",
    }
    write_json(tmp_path / "reproduction.json", {"title": "t / r", "comparisons": [comparison]})
    (tmp_path / "reproduction").mkdir()
    png = curves_png([Band("gan", [1500, 3000], [6.7, 8.0])], title="modes", ylabel="modes")
    (tmp_path / "reproduction" / "01-gan-ring8-modes.png").write_bytes(png)
    html = reproduction_section(tmp_path)
    assert "Reproduction over training" in html and "widening" in html and ">1500<" in html
    assert html.count("data:image/png;base64,") == 1
    assert json.loads((tmp_path / "reproduction.json").read_text())["comparisons"]
