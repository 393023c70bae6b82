"""Metrics checked against reference implementations: FID against numpy/scipy and against
torch-fidelity's own pipeline, mode coverage against hand-built known answers and scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import scipy.stats
import torch
import torch_fidelity

from bench.data import DATASETS
from bench.data.base import DataInfo, DataSplits
from bench.errors import BenchError
from bench.metrics import (
    FEATURE_SPACES,
    METRICS,
    EvalInputs,
    Features,
    MetricInputError,
    frechet_distance,
    mode_coverage,
)
from bench.metrics.features import classifier as classifier_module
from bench.metrics.features import classifier_weights_path, register_with_torch_fidelity
from tests.metrics.tensor_images import TensorImages

RING8 = DATASETS.get("ring8")()
RING_CENTRES = RING8.eval_spec.mode_centers


def reference_fid(a: np.ndarray, b: np.ndarray) -> float:
    """The textbook formula, written independently of torch-fidelity."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(cov_a @ cov_b).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root))


# ---------------------------------------------------------------- Fréchet distance


def test_frechet_distance_matches_scipy_reference() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(2000, 8)) @ rng.normal(size=(8, 8)) + 1.0
    b = rng.normal(size=(1500, 8)) @ rng.normal(size=(8, 8)) - 0.5
    assert frechet_distance(torch.from_numpy(a), torch.from_numpy(b)) == pytest.approx(
        reference_fid(a, b), rel=1e-6
    )


def test_frechet_distance_is_zero_for_identical_sets() -> None:
    x = torch.randn(500, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert frechet_distance(x, x.clone()) == pytest.approx(0.0, abs=1e-9)


def test_frechet_distance_known_gaussians() -> None:
    # Diagonal covariances: FID = |m1 - m2|^2 + sum_i (s1_i - s2_i)^2 = 5 + 2 = 7.
    gen = torch.Generator().manual_seed(2)
    std_a, std_b = torch.tensor([1.0, 1.0, 2.0]), torch.tensor([2.0, 1.0, 1.0])
    a = torch.randn(200_000, 3, generator=gen, dtype=torch.float64) * std_a
    b = torch.randn(200_000, 3, generator=gen, dtype=torch.float64) * std_b
    b += torch.tensor([1.0, 2.0, 0.0], dtype=torch.float64)
    assert frechet_distance(a, b) == pytest.approx(7.0, rel=0.02)


@pytest.mark.parametrize(
    ("real", "fake", "problem"),
    [
        (torch.randn(10, 3), torch.randn(10, 4), "width"),
        (torch.randn(10, 3), torch.randn(1, 3), "rows"),
        (torch.randn(10), torch.randn(10, 1), "2-D"),
        (torch.randn(10, 3), torch.full((10, 3), float("nan")), "NaN"),
        (torch.tensor([[1.0, float("inf")]] * 4), torch.randn(4, 2), "NaN or inf"),
    ],
)
def test_frechet_distance_rejects_bad_inputs(
    real: torch.Tensor, fake: torch.Tensor, problem: str
) -> None:
    with pytest.raises(MetricInputError, match=rf"^fid: .*{problem}"):
        frechet_distance(real, fake)


def test_fid_metric_reads_feature_spaces() -> None:
    fid = METRICS.get("fid")
    real = Features(torch.randn(300, 4, dtype=torch.float64))
    fake = Features(torch.randn(300, 4, dtype=torch.float64) + 1)
    inputs = EvalInputs(torch.zeros(300, 2), fake, real, RING8.eval_spec, RING8.info)
    assert fid.applies(RING8.eval_spec, RING8.info) is None
    assert fid.compute(inputs) == {"fid": frechet_distance(real.features, fake.features)}
    assert set(fid.directions) == {"fid"}


# ---------------------------------------------------------------- domain classifier


@pytest.fixture(scope="module")
def digits() -> tuple[str, DataSplits, DataInfo]:
    ds = DATASETS.get("digits")()
    return ds.fingerprint("digits"), ds.load(), ds.info


@pytest.fixture(scope="module")
def fitted(
    digits: tuple[str, DataSplits, DataInfo], tmp_path_factory: pytest.TempPathFactory
) -> dict:
    """One classifier fit for the whole module, cached in a temporary BENCH_CACHE_DIR."""
    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BENCH_CACHE_DIR", str(cache))
        state = FEATURE_SPACES.get("classifier").fit(*digits)
    return {"state": state, "cache": cache}


def test_classifier_learns_digits(fitted: dict) -> None:
    assert fitted["state"]["heldout_accuracy"] > 0.9


def test_second_fit_loads_the_cache(
    fitted: dict, digits: tuple[str, DataSplits, DataInfo], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BENCH_CACHE_DIR", str(fitted["cache"]))

    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cached classifier should have been reused")

    monkeypatch.setattr(classifier_module, "train_classifier", no_training)
    again = FEATURE_SPACES.get("classifier").fit(*digits)
    assert again["heldout_accuracy"] == fitted["state"]["heldout_accuracy"]
    for name, tensor in fitted["state"]["state_dict"].items():
        assert torch.equal(again["state_dict"][name], tensor)


def test_classifier_needs_labels(
    digits: tuple[str, DataSplits, DataInfo], tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path))
    fingerprint, splits, info = digits
    unlabelled = DataSplits(train=splits.train, heldout=splits.heldout)
    with pytest.raises(BenchError, match="no labels"):
        FEATURE_SPACES.get("classifier").fit(fingerprint, unlabelled, info)


def test_extractor_shapes(fitted: dict, digits: tuple[str, DataSplits, DataInfo]) -> None:
    _, splits, info = digits
    out = FEATURE_SPACES.get("classifier").extractor(fitted["state"], info, "cpu")(splits.heldout)
    assert out.features.dtype == torch.float64 and out.features.shape == (len(splits.heldout), 128)
    assert out.logits is not None and out.logits.shape == (len(splits.heldout), 10)


def test_torch_fidelity_extractor_matches_our_fid(
    fitted: dict, digits: tuple[str, DataSplits, DataInfo], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BENCH_CACHE_DIR", str(fitted["cache"]))
    fingerprint, splits, info = digits
    real = splits.heldout
    noisy = (splits.train[:400] + 0.2 * torch.rand(400, *info.shape)).clamp(0, 1)
    ours = FEATURE_SPACES.get("classifier").extractor(fitted["state"], info, "cpu")
    expected = frechet_distance(ours(real).features, ours(noisy).features)

    register_with_torch_fidelity()  # ClassifierSpace.fit did already; a second call is a no-op
    result = torch_fidelity.calculate_metrics(
        input1=TensorImages(real),
        input2=TensorImages(noisy),
        fid=True,
        feature_extractor="bench-classifier",
        feature_extractor_weights_path=str(classifier_weights_path(fingerprint)),
        cuda=False,
        cache=False,
        save_cpu_ram=True,  # no DataLoader worker processes
        batch_size=256,
        verbose=False,
    )
    assert expected > 0.1
    assert result["frechet_inception_distance"] == pytest.approx(expected, rel=1e-6)


def test_raw_space_flattens_points() -> None:
    raw = FEATURE_SPACES.get("raw")
    assert raw.fit("ring8-x", RING8.load(), RING8.info) is None
    x = torch.randn(1100, 2)
    out = raw.extractor(None, RING8.info, "cpu")(x)
    assert out.logits is None and out.features.dtype == torch.float64
    assert torch.equal(out.features, x.double())


# ---------------------------------------------------------------- mode coverage


@pytest.mark.parametrize("k", [1, 3, 8])
def test_samples_on_k_centres_capture_k_modes(k: int) -> None:
    samples = np.repeat(RING_CENTRES[:k], 50, axis=0)
    out = mode_coverage(samples, RING_CENTRES, std=0.01)
    assert out["modes"] == k
    assert out["high_quality"] == 1.0


def test_far_points_capture_nothing() -> None:
    samples = torch.full((100, 2), 5.0)
    out = mode_coverage(samples, RING_CENTRES, std=0.01)
    assert out["modes"] == 0 and out["high_quality"] == 0.0
    assert out["reverse_kl"] == pytest.approx(math.log(8))  # documented: an empty histogram


def test_reverse_kl_uniform_and_collapsed() -> None:
    gen = torch.Generator().manual_seed(3)
    centres = torch.as_tensor(RING_CENTRES)
    uniform = centres.repeat(500, 1) + 0.01 * torch.randn(4000, 2, generator=gen)
    assert mode_coverage(uniform, RING_CENTRES, std=0.01)["reverse_kl"] == pytest.approx(
        0.0, abs=0.01
    )
    collapsed = centres[:1].repeat(400, 1)
    assert mode_coverage(collapsed, RING_CENTRES, std=0.01)["reverse_kl"] == pytest.approx(
        math.log(8)
    )


def test_reverse_kl_matches_scipy_and_ignores_low_quality() -> None:
    counts = np.array([5, 1, 0, 2, 7, 0, 3, 1])
    good = np.repeat(RING_CENTRES, counts, axis=0)
    between = (RING_CENTRES[:2].mean(0, keepdims=True)).repeat(30, axis=0)  # far from any centre
    out = mode_coverage(np.concatenate([good, between]), RING_CENTRES, std=0.01)
    p = counts / counts.sum()
    assert out["reverse_kl"] == pytest.approx(scipy.stats.entropy(p, np.full(8, 1 / 8)), rel=1e-9)
    assert out["modes"] == 6
    assert out["high_quality"] == pytest.approx(counts.sum() / (counts.sum() + 30))


def test_threshold_is_in_stds() -> None:
    centre = RING_CENTRES[0]
    inside = centre + np.array([[0.029, 0.0]])
    outside = centre + np.array([[0.031, 0.0]])
    assert mode_coverage(inside, RING_CENTRES, std=0.01)["high_quality"] == 1.0
    assert mode_coverage(outside, RING_CENTRES, std=0.01)["high_quality"] == 0.0


def test_mode_coverage_chunks_large_inputs() -> None:
    samples = torch.as_tensor(RING_CENTRES).repeat(2500, 1)  # 20,000 rows: several chunks
    out = mode_coverage(samples, RING_CENTRES, std=0.01)
    assert out == {"modes": 8.0, "high_quality": 1.0, "reverse_kl": pytest.approx(0.0, abs=1e-12)}


@pytest.mark.parametrize(
    ("samples", "problem"),
    [
        (torch.full((5, 2), float("nan")), "NaN"),
        (torch.zeros(5, 3), "do not match"),
        (torch.zeros(0, 2), "non-empty"),
    ],
)
def test_mode_coverage_rejects_bad_inputs(samples: torch.Tensor, problem: str) -> None:
    with pytest.raises(MetricInputError, match=rf"^modes: .*{problem}"):
        mode_coverage(samples, RING_CENTRES, std=0.01)


def test_modes_metric_applies_only_with_known_centres() -> None:
    modes = METRICS.get("modes")
    digits = DATASETS.get("digits")()
    assert "known mode centres" in (modes.applies(digits.eval_spec, digits.info) or "")
    assert modes.applies(RING8.eval_spec, RING8.info) is None
    samples = torch.as_tensor(RING_CENTRES[:5], dtype=torch.float32)
    feats = Features(samples.double())
    inputs = EvalInputs(samples, feats, feats, RING8.eval_spec, RING8.info)
    assert modes.compute(inputs)["modes"] == 5
    assert modes.directions == {"modes": "max", "high_quality": "max", "reverse_kl": "min"}
