"""leaderboard.md: each section (training stability) split per dataset by model family, each
family's table with only the keys its rows have, grouped as the HTML report groups them."""

from __future__ import annotations

import re

import pytest

from bench.report.html_sections import stability_tables
from bench.report.markdown import leaderboard_markdown
from bench.results.aggregate import aggregate
from bench.results.runs import load_run
from tests.report.fake_runs import make_run

GAN_ONLY = {"d_gap", "loss_d_cv"}  # what fake_runs gives the GAN rows and not the VAE
VAE_ONLY = {"grad_norm_max"}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("markdown"))


def section_of(markdown: str, heading: str) -> str:
    start = markdown.index(heading + "\n")
    end = markdown.find("\n## ", start + 1)
    return markdown[start : None if end < 0 else end]


def family_tables(section: str) -> dict[str, list[list[str]]]:
    """Each `### family` heading of a section with its table's lines split into cells."""
    tables: dict[str, list[list[str]]] = {}
    for part in section.split("\n### ")[1:]:
        name, *lines = part.splitlines()
        cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines if line]
        tables[name] = [row for row in cells if not row[0].startswith("---")]
    return tables


def test_each_family_has_a_stability_table_with_only_its_own_keys(run):
    markdown = leaderboard_markdown(aggregate(run))
    tables = family_tables(section_of(markdown, "## Training stability: ring8"))
    assert list(tables) == ["GANs", "Autoencoders"]
    keys = {name: {h.rsplit(" ", 1)[0] for h in rows[0][4:]} for name, rows in tables.items()}
    assert keys["GANs"] == {"diverged"} | GAN_ONLY
    assert keys["Autoencoders"] == {"diverged"} | VAE_ONLY
    assert {row[1] for row in tables["GANs"][1:]} == {"gan"} and len(tables["GANs"]) == 3
    assert [row[1] for row in tables["Autoencoders"][1:]] == ["vae"]
    assert all("—" not in row for rows in tables.values() for row in rows)  # no empty columns
    assert markdown.count("## Training stability") == 1


def test_markdown_and_html_group_the_rows_alike(run):
    markdown = leaderboard_markdown(aggregate(run))
    in_markdown = list(family_tables(section_of(markdown, "## Training stability: ring8")))
    html = stability_tables(load_run(run), "ring8")
    assert re.findall(r"<h3>Training stability: ([^<]+)</h3>", html) == in_markdown


def test_a_model_no_longer_registered_gets_a_table_of_its_own(run):
    board = aggregate(run)
    vae = next(r for r in board.rows if r.model == "vae")
    vae.model_name = "a_plugin_since_uninstalled"
    tables = family_tables(section_of(leaderboard_markdown(board), "## Training stability: ring8"))
    assert list(tables) == ["GANs", "Models not registered here"]
    assert "grad_norm_max ↓" in tables["Models not registered here"][0]
