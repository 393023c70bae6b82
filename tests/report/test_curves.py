"""Curves of the HTML report: seeds folded into mean ± std bands, long histories binned."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.plots import Band, Panel, panels_png
from bench.report.curves import MAX_POINTS, evaluation_series, history_columns, seed_band
from bench.results.folder import read_history


def test_a_long_history_is_binned_to_at_most_max_points_of_bin_means():
    steps = np.arange(1, 10_001)
    band = seed_band("loss", [(steps, steps.astype(float))])
    assert len(band.steps) == MAX_POINTS and band.spread is None
    # a bin of 50 consecutive steps: its x and its value are both the mean step of the bin
    assert band.steps[0] == pytest.approx(25.5) and band.mean[0] == pytest.approx(25.5)
    assert band.mean[-1] == pytest.approx(np.mean(np.arange(9951, 10_001)))


def test_seeds_of_different_lengths_fold_over_the_seeds_that_reached_a_step():
    long = (np.arange(1, 11), np.ones(10))
    short = (np.arange(1, 6), np.full(5, 3.0))
    band = seed_band("loss", [long, short])
    assert band.steps == list(range(1, 11))
    assert band.mean[:5] == [2.0] * 5 and band.mean[5:] == [1.0] * 5
    assert band.spread[0] == pytest.approx(math.sqrt(2.0)) and math.isnan(band.spread[9])


def test_non_finite_values_are_left_out_and_an_empty_curve_is_none():
    steps = np.arange(1, 5)
    band = seed_band("x", [(steps, np.array([1.0, np.nan, np.inf, 3.0]))])
    assert band.steps == [1.0, 4.0] and band.mean == [1.0, 3.0]
    assert seed_band("x", [(steps, np.full(4, np.nan))]) is None
    assert seed_band("x", []) is None


def test_evaluations_and_history_files_read_as_series(tmp_path):
    evaluations = [{"step": 10, "metrics": {"fid": 2.0}}, {"step": 20, "metrics": {}}]
    steps, values = evaluation_series(evaluations, "fid")
    assert steps.tolist() == [10.0] and values.tolist() == [2.0]
    (tmp_path / "history.csv").write_text("step,loss_d,loss_g\n1,0.5,\n2,nan,0.25\n")
    history = history_columns(read_history(tmp_path / "history.csv"))
    assert history["step"].tolist() == [1.0, 2.0] and math.isnan(history["loss_g"][0])
    assert history_columns(read_history(tmp_path / "missing.csv")) == {}


def test_panels_draw_log_axes_even_when_a_band_reaches_below_zero():
    band = Band("grad_norm", [1, 2, 3], [1.0, 2.0, 1.5], [3.0, 0.1, 0.2])
    categorical = Panel(
        "fid by hidden", [Band("gan", [0, 1], [2.0, 1.0])], xticks=["[64]", "[128]"]
    )
    png = panels_png([Panel("gradient norms", [band], log_y=True), categorical], cols=3)
    assert png.startswith(b"\x89PNG")
