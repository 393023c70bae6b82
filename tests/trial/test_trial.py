"""Trial helpers at the bottom of the floor plan: evaluation schedules and folder-safe names."""

from __future__ import annotations

import pytest

from bench.trial import evaluation_steps, log_spaced, slug


@pytest.mark.parametrize(
    ("budget", "steps"),
    [
        ({"steps": 10, "eval_every": 5}, [5, 10]),
        ({"steps": 10, "eval_every": 4}, [4, 8, 10]),
        ({"steps": 10, "eval_every": None, "eval_at": [2, 3]}, [2, 3, 10]),
        ({"steps": 10000, "eval_schedule": {"log": 3}}, [100, 1000, 10000]),
        ({"steps": 30000, "eval_schedule": {"log": 4, "first": 30}}, [30, 300, 3000, 30000]),
    ],
)
def test_evaluation_steps_always_end_at_the_last_step(budget, steps):
    assert evaluation_steps(budget) == steps


def test_log_spacing_is_geometric_and_merges_rounded_neighbours():
    spaced = log_spaced(30000, 6)
    assert spaced[0] == 300 and spaced[-1] == 30000 and len(spaced) == 6
    ratios = [b / a for a, b in zip(spaced, spaced[1:], strict=False)]
    assert max(ratios) / min(ratios) < 1.01
    assert log_spaced(5, 10, first=1) == [1, 2, 3, 4, 5]  # rounding merges the low end


def test_slug_keeps_folder_safe_characters_only():
    assert slug("gan lr=0.001/x") == "gan_lr_0.001_x"
    assert slug("///") == "x"
