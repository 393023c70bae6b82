"""The autoencoder metrics as pure functions of tensors: each value computed by hand from given
probe tensors, with no model anywhere (tests/models/test_autoencoders.py measures real models)."""

from __future__ import annotations

import math

import pytest
import torch

from bench.data import DATASETS
from bench.data.base import EvalSpec
from bench.metrics import METRICS, EvalInputs, Features, MetricInputError
from bench.metrics.autoencoding import (
    anomaly_auroc,
    elbo_values,
    per_image_squared_error,
    reconstruction_mse,
)

DIGITS = DATASETS.get("digits")()


def inputs(spec: EvalSpec | None = None, **probes: torch.Tensor) -> EvalInputs:
    empty = Features(torch.zeros(1, 1, dtype=torch.float64))
    return EvalInputs(
        samples=torch.zeros(1, *DIGITS.info.shape),
        fake=empty,
        real=empty,
        spec=spec or DIGITS.eval_spec,
        info=DIGITS.info,
        probes=probes,
    )


def images(n: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(seed))


def test_per_image_squared_error_and_its_mean() -> None:
    x = torch.zeros(3, 1, 2, 2)
    x_hat = x.clone()
    x_hat[1] = 1.0  # every pixel off by 1
    x_hat[2, 0, 0, 0] = 2.0  # one pixel of four off by 2
    assert per_image_squared_error(x_hat, x).tolist() == [0.0, 1.0, 1.0]
    assert reconstruction_mse(x_hat, x) == pytest.approx(2 / 3)
    with pytest.raises(MetricInputError, match="reconstructions of"):
        per_image_squared_error(x_hat[:2], x)


def test_reconstruction_metric_reads_the_first_heldout_rows_it_was_given() -> None:
    heldout = images(50)
    values = METRICS.get("reconstruction").compute(
        inputs(heldout=heldout, reconstructions=heldout[:20] + 0.25)
    )
    assert values == {"recon_mse": pytest.approx(0.0625)}


def test_elbo_values_by_hand() -> None:
    neg_elbo = torch.tensor([[10.0, 2.0], [20.0, 4.0]])  # (recon NLL, KL) per image
    nll = torch.tensor([11.0, 13.0, 15.0])
    assert elbo_values(neg_elbo, nll) == {"elbo": -18.0, "kl": 3.0, "nll": 13.0}
    metric = METRICS.get("elbo")
    assert metric.compute(inputs(neg_elbo=neg_elbo, importance_nll=nll))["elbo"] == -18.0
    with pytest.raises(MetricInputError, match="NaN or inf"):
        elbo_values(neg_elbo, torch.tensor([math.inf]))
    with pytest.raises(MetricInputError, match=r"\(N, 2\)"):
        elbo_values(neg_elbo[:, :1], nll)


def test_active_units_metric_from_posterior_means() -> None:
    gen = torch.Generator().manual_seed(0)
    means = torch.cat([torch.randn(400, 3, generator=gen), torch.zeros(400, 1)], dim=1)
    values = METRICS.get("active_units").compute(inputs(posterior_means=means))
    assert values == {"active_units": 0.75}


def test_anomaly_auroc_from_scores_and_labels() -> None:
    labels = torch.tensor([0, 3, 1, 3, 2, 3])
    perfect = (labels == 3).double() + 0.1 * torch.arange(6)  # every 3 above every other
    assert anomaly_auroc(perfect * 10, labels, 3) == 1.0
    assert anomaly_auroc(torch.ones(6), labels, 3) == 0.5  # ties: chance
    assert anomaly_auroc(-perfect * 10, labels, 3) == 0.0
    # 3 x 3 pairs (left-out, other); 7 ordered correctly
    scores = torch.tensor([0.1, 0.5, 0.6, 0.9, 0.2, 0.3])
    assert anomaly_auroc(scores, labels, 3) == pytest.approx(7 / 9)
    with pytest.raises(MetricInputError, match="6 scores for 5"):
        anomaly_auroc(scores, labels[:5], 3)


def test_anomaly_metric_reads_scores_labels_and_the_left_out_class() -> None:
    spec = EvalSpec(feature_space="classifier", anomaly_class=1)
    labels = torch.tensor([1, 0, 1, 0])
    scores = torch.tensor([5.0, 1.0, 4.0, 2.0])
    metric = METRICS.get("anomaly")
    assert metric.compute(inputs(spec, anomaly_scores=scores, labels=labels)) == {
        "anomaly_auroc": 1.0
    }
    with pytest.raises(MetricInputError, match="no labels"):
        metric.compute(inputs(spec, anomaly_scores=scores))


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("reconstruction", "reconstructions"),
        ("elbo", "neg_elbo"),
        ("active_units", "posterior_means"),
        ("anomaly", "anomaly_scores"),
    ],
)
def test_a_metric_without_its_probe_tensors_says_which(name: str, key: str) -> None:
    spec = EvalSpec(feature_space="classifier", anomaly_class=1)
    with pytest.raises(MetricInputError, match=f"'{key}'"):
        METRICS.get(name).compute(inputs(spec))
