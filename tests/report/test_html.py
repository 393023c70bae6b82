"""bench report: one self-contained HTML file, checked by its structure and in a real browser."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.cli import EXIT_USAGE, app
from bench.errors import BenchError
from bench.report.html import write_report
from tests.report.fake_runs import HOSTILE, make_run

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PROTOCOL = {"feature_space": "raw", "n_generated": 100, "versions": {"torch": "2.14.1"}}


class Page(HTMLParser):
    """What the tests look at: headings, tables, images, links, scripts and visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.headings: list[str] = []
        self.text: list[str] = []
        self._heading = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._heading = tag in ("h1", "h2", "h3", "h4")
        if self._heading:
            self.headings.append("")

    def handle_endtag(self, tag):
        self._heading = self._heading and tag not in ("h1", "h2", "h3", "h4")

    def handle_data(self, data):
        self.text.append(data)
        if self._heading:
            self.headings[-1] += data

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def decoded_png(src: str) -> bytes:
    prefix = "data:image/png;base64,"
    assert src.startswith(prefix), src[:60]
    data = base64.b64decode(src[len(prefix) :], validate=True)
    assert data.startswith(PNG_SIGNATURE)
    return data


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    a = make_run(root, "20260101-000000-aaaa", protocol=PROTOCOL, fail_one=True)
    b = make_run(root, "20260102-000000-bbbb", shift=0.5)
    return a, b


@pytest.fixture(scope="module")
def one_report(runs):
    return write_report([runs[0]])


def test_one_run_gives_one_self_contained_file_in_the_run_folder(runs, one_report):
    assert one_report == runs[0] / "report.html"
    page = parse(one_report)
    images = [attrs["src"] or "" for attrs in page.all("img")]
    assert len(images) >= 8
    for src in images:
        decoded_png(src)  # every image inline, and a real PNG
    assert all(attrs.get("alt") for attrs in page.all("img"))
    # nothing fetched: no external stylesheet, script or link out of the file
    assert not page.all("link")
    assert all("src" not in attrs for attrs in page.all("script"))
    assert all((a.get("href") or "#").startswith("#") for a in page.all("a"))


def test_the_sections_a_reader_needs_are_there(one_report):
    page = parse(one_report)
    for heading in (
        "ring8",
        "Leaderboard",
        "Cost",
        "Training stability: GANs",
        "Training stability: Autoencoders",
        "Metrics over training",
        "Hyperparameter sensitivity",
        "Rows: training curves and pictures",
        "gan, lr=0.001",
        "Protocol",
        "Trials that did not complete",
        "Run and versions",
    ):
        assert heading in page.headings, heading
    assert len(page.all("table")) >= 6
    text = "".join(page.text)
    assert "fid ↓" in text and "modes ↑" in text and "1 ± 0.1" in text
    assert "s per trial" in text and "most expensive metric" in text
    assert "feature_space" in text and "version: torch" in text
    assert "interpolation.png" in text  # a picture the report has no caption for still shows


def test_stability_tables_show_only_the_keys_of_their_family(one_report):
    html = one_report.read_text()
    gans = html.index("Training stability: GANs")
    autoencoders = html.index("Training stability: Autoencoders")
    vae_table = html[autoencoders : html.index("</table>", autoencoders)]
    gan_table = html[gans : html.index("</table>", gans)]
    assert "d_<wbr>gap" in gan_table and "d_<wbr>gap" not in vae_table
    assert "grad_<wbr>norm_<wbr>max" in vae_table and "grad_<wbr>norm_<wbr>max" not in gan_table


def test_text_from_the_run_is_escaped(one_report):
    html = one_report.read_text()
    assert HOSTILE not in html and "&lt;script&gt;alert(" in html
    assert len(re.findall(r"<script>", html)) == 1  # only the report's own load check


def test_several_runs_have_a_section_each_and_a_comparison(runs, tmp_path):
    path = write_report(list(runs), tmp_path / "both.html")
    page = parse(path)
    assert "Comparison" in page.headings
    assert sum(h.startswith(("Run A: fake / ", "Run B: fake / ")) for h in page.headings) == 2
    text = "".join(page.text)
    assert "significant, B worse" in text and "unknown (not recorded in run B)" in text
    with pytest.raises(BenchError, match="-o"):
        write_report(list(runs))


def test_cli_writes_the_default_file_and_refuses_several_runs_without_o(runs, tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["report", str(runs[1])])
    assert result.exit_code == 0, result.output
    assert (runs[1] / "report.html").is_file()
    result = runner.invoke(app, ["report", str(runs[0]), str(runs[1])])
    assert result.exit_code == EXIT_USAGE and "-o" in result.output


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium(tmp_path: Path, *args: str) -> str:
    profile = tmp_path / "profile"
    command = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


def images_loaded(tmp_path: Path, report: Path) -> tuple[int, int]:
    """(decoded, total) images as the browser counted them after the load event, from the
    data-images attribute the report's script sets; missing attribute: the check never ran."""
    dom = chromium(tmp_path, "--dump-dom", report.as_uri())
    found = re.search(r'<html[^>]*data-images="(\d+)/(\d+)"', dom)
    assert found, "the load check did not run: " + dom[:200]
    assert dom.count("<table") == report.read_text().count("<table")
    return int(found.group(1)), int(found.group(2))


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (apt-get install chromium)")
def test_a_headless_browser_renders_every_table_and_image(one_report, tmp_path):
    expected = len(parse(one_report).all("img"))
    assert images_loaded(tmp_path, one_report) == (expected, expected)
    shot = tmp_path / "shot.png"
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,3000", one_report.as_uri())
    assert shot.read_bytes().startswith(PNG_SIGNATURE)
    # the control: one image broken on purpose must not pass
    broken = tmp_path / "broken.html"
    html = one_report.read_text()
    start = html.index("data:image/png;base64,") + len("data:image/png;base64,")
    broken.write_text(html[:start] + "AAAA" + html[start + 4 :])
    assert images_loaded(tmp_path, broken) == (expected - 1, expected)
