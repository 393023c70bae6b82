"""Training stability: a metric over one trial's per-step history (the rows `train_step` logged),
registered like every other metric and measured once, when the trial ends (diverged too).

It reads the roles the model declares for its logged keys (`GenerativeModel.diagnostics`):
losses (`loss`, or `loss_d`/`loss_g` per network), gradient norms, and D(x)/D(G(z)) for
discriminators; it never guesses from key names. Definitions (n = rows before the first
non-finite one,
the tail = the last ceil(tail·n) of those rows):

- `diverged`: 1 when any logged value of any row is NaN or ±inf, else 0.
- `diverged_step`: the step of the first such row; the key is *left out* when nothing diverged,
  so a leaderboard's mean over seeds is "at which step the seeds that diverged did so" and
  `diverged` says how many did (no -1 or NaN sentinel to pollute an average).
- `<loss>_cv`: the tail's standard deviation of the loss over its mean absolute value (+1e-12):
  a scale-free relative spread, 0 for a flat loss. The mean *absolute* value keeps it bounded
  for losses that hover around zero (a Wasserstein critic's), where std/|mean| would explode.
- `<loss>_flips`: the share of the tail's consecutive non-zero first differences that change
  sign, in [0, 1]: 0 for a monotone loss, 1 for a loss that zig-zags every step, about 2/3 for
  independent noise around a constant level.
- `<grad_norm>_median`, `_max`: over all n rows; `_vanishing`: the share of those rows whose
  gradient norm is below 1e-6 (the network is not learning).
- `d_gap`: the tail's mean of D(x) - D(G(z)) (`d_real - d_fake`).
- `d_saturated`: the share of the n rows where D(G(z)) < 0.01 or D(x) - D(G(z)) > 0.99: the
  discriminator rejects the fakes outright and a minimax generator's gradient vanishes. For
  probabilities the second condition implies the first; both are checked, as the definition
  states them. Only for discriminators whose `d_real`/`d_fake` are probabilities (the logistic
  losses): critic, least-squares and hinge scores are not, and a least-squares generator keeps
  its gradient at D(G(z)) = 0. The caller says which via `d_probabilities` when it knows (the
  model's objective); left as None it is guessed from the history alone: probabilities unless
  the model logs `wasserstein` or some D value lies outside [0, 1]. The guess can mistake a
  least-squares discriminator whose mean scores stay inside [0, 1] for a probability.

Keys whose statistic needs more rows than exist (e.g. `_cv` of a single tail row) are left out.
Losses and gradient norms are named per network with the suffixes in `NETWORKS`, so
`STABILITY_DIRECTIONS` names every key `stability` can return (a contract test checks every model's
declared losses and gradient norms against it); a family with a new network adds its suffix there.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from bench.metrics.base import METRICS, Direction, HistoryInputs, Metric, MetricInputError

EPS = 1e-12
VANISHING_GRAD = 1e-6
D_FAKE_SATURATED = 0.01
D_GAP_SATURATED = 0.99
NETWORKS = ("", "_d", "_g", "_e")  # the whole model, discriminator, generator, encoder
LOSS_KEYS = tuple(f"loss{n}" for n in NETWORKS)
GRAD_KEYS = tuple(f"grad_norm{n}" for n in NETWORKS)

# In alphabetical order, the order a trial's keys take in its metrics.json and in tables.
STABILITY_DIRECTIONS: dict[str, Direction] = dict(
    sorted(
        {
            "diverged": "min",
            "diverged_step": "max",  # later divergence is better
            **{f"{k}_{stat}": "min" for k in LOSS_KEYS for stat in ("cv", "flips")},
            # Large gradient norms are the usual sign of instability, vanishing ones of a stall.
            **{f"{k}_{stat}": "min" for k in GRAD_KEYS for stat in ("median", "max", "vanishing")},
            "d_gap": "min",  # a smaller gap: the discriminator tells fakes from data less easily
            "d_saturated": "min",
        }.items()
    )
)

Row = Mapping[str, float]


def numeric_rows(history: Sequence[Row]) -> list[dict[str, float]]:
    """Rows as {key: float} sorted by step; missing (None) values dropped."""
    rows = []
    for i, row in enumerate(history):
        if "step" not in row:
            raise MetricInputError(f"stability: history row {i} has no 'step'")
        try:
            clean = {k: float(v) for k, v in row.items() if v is not None}
        except (TypeError, ValueError) as exc:
            problem = f"stability: history row {i} holds a non-number: {exc}"
            raise MetricInputError(problem) from None
        if not math.isfinite(clean["step"]):
            raise MetricInputError(f"stability: history row {i} has step {clean['step']}")
        rows.append(clean)
    return sorted(rows, key=lambda r: r["step"])


def first_nonfinite(rows: list[dict[str, float]]) -> int | None:
    """Index of the first row holding a NaN or infinite value, or None."""
    for i, row in enumerate(rows):
        if not all(math.isfinite(v) for v in row.values()):
            return i
    return None


def series(rows: list[dict[str, float]], key: str) -> np.ndarray:
    return np.array([row[key] for row in rows if key in row], dtype=np.float64)


def sign_flip_share(values: np.ndarray) -> float:
    """Share of consecutive non-zero first differences that change sign (0 when fewer than 2)."""
    signs = np.sign(np.diff(values))
    signs = signs[signs != 0]
    if len(signs) < 2:
        return 0.0
    return float((signs[1:] != signs[:-1]).mean())


def loss_oscillation(tail: list[dict[str, float]], keys: Sequence[str]) -> dict[str, float]:
    out = {}
    for key in keys:
        values = series(tail, key)
        if len(values) >= 2:
            out[f"{key}_cv"] = float(values.std() / (np.abs(values).mean() + EPS))
            out[f"{key}_flips"] = sign_flip_share(values)
    return out


def gradient_stats(rows: list[dict[str, float]], keys: Sequence[str]) -> dict[str, float]:
    out = {}
    for key in keys:
        values = series(rows, key)
        if len(values):
            out[f"{key}_median"] = float(np.median(values))
            out[f"{key}_max"] = float(values.max())
            out[f"{key}_vanishing"] = float((values < VANISHING_GRAD).mean())
    return out


def discriminator_stats(
    rows: list[dict[str, float]],
    tail: list[dict[str, float]],
    d_probabilities: bool | None,
    real_key: str = "d_real",
    fake_key: str = "d_fake",
) -> dict[str, float]:
    both = [r for r in rows if real_key in r and fake_key in r]
    if not both:
        return {}
    d_real, d_fake = series(both, real_key), series(both, fake_key)
    tail_both = [r for r in tail if real_key in r and fake_key in r]
    out = {}
    if tail_both:
        out["d_gap"] = float((series(tail_both, real_key) - series(tail_both, fake_key)).mean())
    if d_probabilities is None:
        d_probabilities = not any("wasserstein" in r for r in rows) and all(
            ((v >= 0) & (v <= 1)).all() for v in (d_real, d_fake)
        )
    if d_probabilities:
        saturated = (d_fake < D_FAKE_SATURATED) | (d_real - d_fake > D_GAP_SATURATED)
        out["d_saturated"] = float(saturated.mean())
    return out


def stability(
    history: Sequence[Row],
    roles: Mapping[str, str],
    tail: float = 0.25,
    d_probabilities: bool | None = None,
) -> dict[str, float]:
    """Divergence, loss oscillation, gradient-norm and discriminator statistics of one trial's
    per-step rows; see the module docstring for every definition. `roles`: logged key -> role
    as the model declares it. `d_probabilities`: whether the d_real/d_fake values are
    probabilities (None: guessed from the rows)."""
    if not 0 < tail <= 1:
        raise MetricInputError(f"stability: tail must be a share in (0, 1], got {tail}")
    if not history:
        raise MetricInputError("stability: the history is empty (no training step was logged)")
    rows = numeric_rows(history)
    bad = first_nonfinite(rows)
    out: dict[str, float] = {"diverged": float(bad is not None)}
    if bad is not None:
        out["diverged_step"] = rows[bad]["step"]
        rows = rows[:bad]
    if not rows:
        return out
    tail_rows = rows[-math.ceil(tail * len(rows)) :]
    out.update(loss_oscillation(tail_rows, keyed(roles, "loss")))
    out.update(gradient_stats(rows, keyed(roles, "grad_norm")))
    d_real, d_fake = keyed(roles, "d_real"), keyed(roles, "d_fake")
    if d_real and d_fake:
        out.update(discriminator_stats(rows, tail_rows, d_probabilities, d_real[0], d_fake[0]))
    return dict(sorted(out.items()))


def keyed(roles: Mapping[str, str], role: str) -> list[str]:
    """The logged keys the model declares in `role`, in its declared order."""
    return [key for key, declared in roles.items() if declared == role]


@METRICS.register("stability")
class Stability(Metric):
    order = 1000  # after every sample metric: its own table
    description = (
        "training stability from the logged history: divergence, loss oscillation, gradient "
        "norms, discriminator gap and saturation (the model declares which keys are which)"
    )
    directions = STABILITY_DIRECTIONS
    inputs = "history"
    section = "Training stability"
    keys_vary = True

    def compute(self, inputs: HistoryInputs, prepared: Any = None) -> dict[str, float]:
        return stability(inputs.history, inputs.roles, d_probabilities=inputs.d_probabilities)
