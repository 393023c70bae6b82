"""Training-stability summaries on constructed histories: steady, oscillating, diverging, a
saturated discriminator, an autoencoder's keys, and malformed histories."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.metrics import METRICS, STABILITY_DIRECTIONS, MetricInputError, stability
from bench.metrics.base import HistoryInputs
from bench.metrics.stability import sign_flip_share
from bench.models.base import ADVERSARIAL_DIAGNOSTICS, RECONSTRUCTION_DIAGNOSTICS

GAN = {key: d.role for key, d in ADVERSARIAL_DIAGNOSTICS.items()}
AE = {key: d.role for key, d in RECONSTRUCTION_DIAGNOSTICS.items()}


def gan_history(
    steps: int = 200,
    loss_d: np.ndarray | None = None,
    d_real: float = 0.6,
    d_fake: float = 0.4,
    seed: int = 0,
) -> list[dict[str, float]]:
    """A GAN's rows: smooth decaying losses plus a little noise unless `loss_d` is given."""
    rng = np.random.default_rng(seed)
    t = np.arange(1, steps + 1)
    if loss_d is None:
        loss_d = 1.4 - 0.2 * (1 - np.exp(-t / 50)) + 0.01 * rng.normal(size=steps)
    return [
        {
            "step": float(s),
            "loss_d": float(loss_d[i]),
            "loss_g": float(0.8 + 0.01 * rng.normal()),
            "d_real": d_real,
            "d_fake": d_fake,
            "grad_norm_d": float(1.0 + 0.1 * i),
            "grad_norm_g": 0.5,
        }
        for i, s in enumerate(t)
    ]


def test_steady_gan() -> None:
    out = stability(gan_history(), GAN)
    assert out["diverged"] == 0.0 and "diverged_step" not in out
    assert out["loss_d_cv"] < 0.02 and out["loss_g_cv"] < 0.02
    assert out["d_gap"] == pytest.approx(0.2) and out["d_saturated"] == 0.0
    # grad_norm_d rises 1.0, 1.1, ..., 20.9 over 200 steps
    assert out["grad_norm_d_median"] == pytest.approx(np.median(1.0 + 0.1 * np.arange(200)))
    assert out["grad_norm_d_max"] == pytest.approx(20.9)
    assert out["grad_norm_g_median"] == 0.5 and out["grad_norm_g_vanishing"] == 0.0
    assert not any(key.startswith(("loss_cv", "grad_norm_median")) for key in out)  # AE keys
    assert set(out) <= set(STABILITY_DIRECTIONS)


def test_oscillating_loss_is_flagged() -> None:
    steady = stability(gan_history(), GAN)
    t = np.arange(200)
    zigzag = 1.0 + 0.5 * (-1.0) ** t  # 1.5, 0.5, 1.5, ... every step
    out = stability(gan_history(loss_d=zigzag), GAN)
    assert out["loss_d_flips"] == 1.0
    assert out["loss_d_cv"] == pytest.approx(0.5)  # std 0.5 over mean |loss| 1.0
    assert out["loss_d_cv"] > 10 * steady["loss_d_cv"]
    monotone = stability(gan_history(loss_d=np.linspace(2.0, 1.0, 200)), GAN)
    assert monotone["loss_d_flips"] == 0.0


def test_tail_is_the_last_share_of_rows() -> None:
    # Wild for the first half, constant afterwards: a tail of 0.25 sees only the calm part.
    loss = np.where(np.arange(200) < 100, 1.0 + (-1.0) ** np.arange(200), 1.0)
    calm = stability(gan_history(loss_d=loss), GAN, tail=0.25)
    assert calm["loss_d_cv"] == 0.0 and calm["loss_d_flips"] == 0.0
    assert stability(gan_history(loss_d=loss), GAN, tail=1.0)["loss_d_cv"] > 0.5


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_value_at_step_k(bad: float) -> None:
    history = gan_history(steps=100)
    history[60]["grad_norm_g"] = bad  # step 61
    history[61]["loss_d"] = bad
    out = stability(history, GAN)
    assert out["diverged"] == 1.0 and out["diverged_step"] == 61.0
    # statistics cover the 60 finite rows before the divergence only
    assert out["grad_norm_g_max"] == 0.5 and math.isfinite(out["loss_d_cv"])
    assert out["grad_norm_d_max"] == pytest.approx(1.0 + 0.1 * 59)


def test_divergence_on_the_first_step_leaves_only_divergence() -> None:
    out = stability([{"step": 1.0, "loss": float("nan"), "grad_norm": 3.0}], AE)
    assert out == {"diverged": 1.0, "diverged_step": 1.0}


def test_saturated_discriminator() -> None:
    history = gan_history(steps=100)
    for row in history[50:]:  # D wins outright for the second half
        row.update(d_real=0.999, d_fake=0.002, grad_norm_g=1e-8)
    out = stability(history, GAN)
    assert out["d_saturated"] == pytest.approx(0.5)
    assert out["d_gap"] == pytest.approx(0.997)  # the tail lies within the saturated half
    assert out["grad_norm_g_vanishing"] == pytest.approx(0.5)


def test_saturation_thresholds() -> None:
    assert stability(gan_history(steps=10, d_real=0.5, d_fake=0.0095), GAN)["d_saturated"] == 1.0
    assert stability(gan_history(steps=10, d_real=0.99, d_fake=0.011), GAN)["d_saturated"] == 0.0


def test_critic_scores_are_not_probabilities() -> None:
    history = gan_history(steps=20, d_real=3.0, d_fake=-2.0)
    out = stability(history, GAN)
    assert out["d_gap"] == pytest.approx(5.0) and "d_saturated" not in out
    wasserstein = [{**row, "d_real": 0.5, "d_fake": 0.001, "wasserstein": 0.4} for row in history]
    assert "d_saturated" not in stability(wasserstein, GAN)
    # A least-squares discriminator's scores can stay inside [0, 1]: the caller knows better.
    scores = gan_history(steps=20, d_real=0.9, d_fake=0.005)
    assert stability(scores, GAN)["d_saturated"] == 1.0  # the guess
    assert "d_saturated" not in stability(scores, GAN, d_probabilities=False)
    assert stability(wasserstein, GAN, d_probabilities=True)["d_saturated"] == 1.0


def test_autoencoder_keys() -> None:
    rows = [
        {"step": s, "loss": 100.0 / s, "recon": 90.0 / s, "kl": 10.0, "grad_norm": 0.0}
        for s in range(1, 41)
    ]
    out = stability(rows, AE)
    assert out["diverged"] == 0.0
    assert out["loss_flips"] == 0.0 and out["loss_cv"] > 0
    assert out["grad_norm_vanishing"] == 1.0 and out["grad_norm_max"] == 0.0
    assert not any(key.startswith(("d_", "loss_d", "grad_norm_d")) for key in out)
    assert set(out) <= set(STABILITY_DIRECTIONS)


def test_unsorted_rows_and_missing_values() -> None:
    rows = [{"step": 3, "loss": 1.0}, {"step": 1, "loss": 3.0, "grad_norm": None}]
    rows.append({"step": 2, "loss": 2.0, "grad_norm": 1.0})
    out = stability(rows, AE, tail=1.0)
    assert out["loss_flips"] == 0.0  # 3, 2, 1 once sorted by step
    assert out["grad_norm_median"] == 1.0


def test_sign_flip_share_ignores_plateaus() -> None:
    assert sign_flip_share(np.array([1.0, 2.0, 2.0, 1.0, 1.0, 2.0])) == 1.0
    assert sign_flip_share(np.array([1.0, 1.0, 1.0])) == 0.0


def test_directions_cover_every_family() -> None:
    assert STABILITY_DIRECTIONS["diverged"] == "min"
    assert STABILITY_DIRECTIONS["diverged_step"] == "max"
    for key in ("loss_cv", "loss_d_flips", "grad_norm_g_vanishing", "d_saturated", "d_gap"):
        assert STABILITY_DIRECTIONS[key] == "min"


@pytest.mark.parametrize(
    ("history", "tail", "problem"),
    [
        ([], 0.25, "empty"),
        ([{"loss": 1.0}], 0.25, "no 'step'"),
        ([{"step": 1, "loss": "high"}], 0.25, "non-number"),
        ([{"step": float("nan"), "loss": 1.0}], 0.25, "step nan"),
        ([{"step": 1, "loss": 1.0}], 0.0, "tail"),
        ([{"step": 1, "loss": 1.0}], 1.5, "tail"),
    ],
)
def test_bad_histories(history: list, tail: float, problem: str) -> None:
    with pytest.raises(MetricInputError, match=rf"^stability: .*{problem}"):
        stability(history, AE, tail=tail)


def test_only_declared_roles_are_summarised() -> None:
    """The model's declaration decides, not the key's name: a loss declared as "other" gets no
    oscillation statistics, and a network suffix the model declares as a loss does."""
    rows = [{"step": s, "loss": 1.0 + s % 2, "loss_e": 2.0 + s % 3} for s in range(1, 41)]
    out = stability(rows, {"loss": "other", "loss_e": "loss"})
    assert "loss_cv" not in out and "loss_e_cv" in out and "loss_e_flips" in out


def test_registered_metric_reads_the_history_with_the_models_roles() -> None:
    metric = METRICS.get("stability")
    assert metric.inputs == "history" and metric.section == "Training stability"
    history = gan_history(steps=50)
    out = metric.compute(HistoryInputs(history, GAN, d_probabilities=True))
    assert out == stability(history, GAN, d_probabilities=True)
    assert set(out) <= set(metric.directions) and list(out) == sorted(out)
