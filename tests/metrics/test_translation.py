"""The cycle metric as a pure function of tensors: held-out pairs and their round trips through
the two translators, computed by hand, with no model anywhere."""

from __future__ import annotations

import pytest
import torch

from bench.data import DATASETS
from bench.metrics import METRICS, EvalInputs, Features, MetricInputError
from bench.metrics.translation import CHUNK, absolute_sum, cycle_error

PAIRS = DATASETS.get("mnist_pairs")


def pairs(n: int = 6, side: int = 4, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 2, side, side, generator=torch.Generator().manual_seed(seed))


def test_a_perfect_round_trip_scores_zero_and_an_offset_its_size() -> None:
    x = pairs()
    assert cycle_error(x, x[:, :1], x[:, 1:]) == {"cycle_a": 0.0, "cycle_b": 0.0}
    got = cycle_error(x, x[:, :1] + 0.25, x[:, 1:] - 0.5)
    assert got == {"cycle_a": pytest.approx(0.25), "cycle_b": pytest.approx(0.5)}


def test_only_the_changed_pixels_count() -> None:
    x = torch.zeros(2, 2, 2, 2)
    cycled_a = x[:, :1].clone()
    cycled_a[0, 0, 0, 0] = 0.8  # one pixel of 8 in domain A
    assert cycle_error(x, cycled_a, x[:, 1:])["cycle_a"] == pytest.approx(0.1)


def test_sums_run_in_chunks_and_match_one_sum() -> None:
    gen = torch.Generator().manual_seed(1)
    a, b = torch.rand(CHUNK + 7, 1, 3, 3, generator=gen), torch.rand(CHUNK + 7, 1, 3, 3)
    assert absolute_sum(a, b) == pytest.approx(float((a - b).abs().double().sum()), rel=1e-12)


def test_refuses_round_trips_of_the_wrong_shape() -> None:
    x = pairs()
    with pytest.raises(MetricInputError, match=r"F\(G\(a\)\) has shape"):
        cycle_error(x, x[:3, :1], x[:, 1:])
    with pytest.raises(MetricInputError, match="paired images"):
        cycle_error(x[:, :1], x[:, :1], x[:, :1])


def test_the_metric_reads_the_heldout_pairs_and_round_trips_from_its_probes() -> None:
    dataset = PAIRS()
    empty = Features(torch.zeros(1, 1, dtype=torch.float64))
    x = pairs()

    def inputs(**probes: torch.Tensor) -> EvalInputs:
        return EvalInputs(
            samples=x,
            fake=empty,
            real=empty,
            spec=dataset.eval_spec,
            info=dataset.info,
            probes=probes,
        )

    metric = METRICS.get("cycle")
    assert metric.probes == ("heldout", "cycle_reconstructions")
    got = metric.compute(inputs(heldout=x, cycled_a=x[:, :1] + 0.1, cycled_b=x[:, 1:]))
    assert got == {"cycle_a": pytest.approx(0.1), "cycle_b": 0.0}
    with pytest.raises(MetricInputError, match="cycled_b"):
        metric.compute(inputs(heldout=x, cycled_a=x[:, :1]))
