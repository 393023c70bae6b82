"""Inception Score against torch-fidelity's own function and known extremes (KID is in
tests/metrics/test_kid.py), class mode coverage, the classifier space's modes and feature
scale, and the Inception feature space (weights resolution, its error message, and loading a
randomly initialised weights file)."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.stats
import torch
from torch_fidelity import feature_extractor_inceptionv3 as tf_inception
from torch_fidelity.metric_isc import isc_features_to_metric

from bench.data import DATASETS
from bench.data.base import DataInfo, DataSplits
from bench.errors import BenchError
from bench.metrics import (
    FEATURE_SPACES,
    METRICS,
    EvalInputs,
    Features,
    MetricInputError,
    class_mode_coverage,
    inception_score,
    inception_weights_path,
    kid,
)
from bench.metrics import features as features_module

RING8 = DATASETS.get("ring8")()
DIGITS = DATASETS.get("digits")()


def randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# ---------------------------------------------------------------- Inception Score


@pytest.mark.parametrize(
    ("n", "splits", "shuffle", "seed"), [(500, 10, True, 2020), (97, 3, False, 5)]
)
def test_inception_score_is_torch_fidelity(n: int, splits: int, shuffle: bool, seed: int) -> None:
    logits = 3 * randn(n, 10, seed=seed)
    expected = isc_features_to_metric(logits, splits=splits, shuffle=shuffle, rng_seed=seed)
    mean, std = inception_score(logits, splits=splits, shuffle=shuffle, seed=seed)
    assert mean == expected["inception_score_mean"] and std == expected["inception_score_std"]
    assert 1.0 < mean < 10.0 and std > 0


def test_inception_score_known_extremes() -> None:
    # Confident and balanced over K classes within each split: IS = K; one class only: IS = 1.
    k, splits = 8, 4
    confident = 60.0 * torch.eye(k, dtype=torch.float64).repeat(10 * splits, 1)
    mean, std = inception_score(confident, splits=splits, shuffle=False)
    assert mean == pytest.approx(k, rel=1e-9) and std == pytest.approx(0.0, abs=1e-9)
    collapsed = 60.0 * torch.eye(k, dtype=torch.float64)[:1].repeat(40, 1)
    assert inception_score(collapsed, splits=splits)[0] == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize(
    ("logits", "splits", "problem"),
    [
        (torch.zeros(0, 10), 10, "rows"),
        (torch.zeros(9, 10), 10, "rows"),
        (torch.zeros(10), 1, "2-D"),
        (torch.tensor([[0.0, float("nan")]] * 20), 10, "NaN"),
        (torch.tensor([[0.0, float("-inf")]] * 20), 10, "NaN or inf"),
        (torch.zeros(20, 10), 0, "splits"),
    ],
)
def test_inception_score_rejects_bad_inputs(
    logits: torch.Tensor, splits: int, problem: str
) -> None:
    with pytest.raises(MetricInputError, match=rf"^is: .*{problem}"):
        inception_score(logits, splits=splits)


# ---------------------------------------------------------------- registered metrics


def test_is_applies_only_with_logits() -> None:
    metric = METRICS.get("is")
    assert metric.applies(DIGITS.eval_spec, DIGITS.info) is None
    assert "logits" in (metric.applies(RING8.eval_spec, RING8.info) or "")
    logits = 3 * randn(200, 10)
    fake = Features(randn(200, 4), logits=logits)
    inputs = EvalInputs(torch.zeros(200, 1, 8, 8), fake, fake, DIGITS.eval_spec, DIGITS.info)
    mean, std = inception_score(logits)
    assert metric.compute(inputs) == {"is": mean, "is_std": std}
    assert metric.directions == {"is": "max", "is_std": "min"}
    inputs.fake = Features(randn(200, 4))
    with pytest.raises(MetricInputError, match="^is: .*no logits"):
        metric.compute(inputs)


# ---------------------------------------------------------------- class mode coverage


def test_class_mode_coverage_counts_and_kl() -> None:
    counts = np.array([5, 1, 0, 2, 7, 0, 3, 1, 0, 4])
    ids = torch.as_tensor(np.repeat(np.arange(10), counts))
    out = class_mode_coverage(ids[torch.randperm(len(ids))], 10)
    assert out["modes"] == 7
    expected = scipy.stats.entropy(counts / counts.sum(), np.full(10, 0.1))
    assert out["reverse_kl"] == pytest.approx(expected, rel=1e-9)


def test_class_mode_coverage_uniform_and_collapsed() -> None:
    assert class_mode_coverage(torch.arange(10).repeat(30), 10) == {
        "modes": 10.0,
        "reverse_kl": pytest.approx(0.0, abs=1e-12),
    }
    collapsed = class_mode_coverage(np.full(50, 3), 10)
    assert collapsed == {"modes": 1.0, "reverse_kl": pytest.approx(math.log(10))}


@pytest.mark.parametrize(
    ("ids", "num_modes", "problem"),
    [
        (torch.zeros(0, dtype=torch.long), 10, "non-empty"),
        (torch.zeros(3, 2, dtype=torch.long), 10, "1-D"),
        (torch.tensor([0, 10]), 10, r"\[0, 10\)"),
        (torch.tensor([-1, 2]), 10, r"\[0, 10\)"),
        (torch.tensor([0.0, float("nan")]), 10, "NaN"),
        (torch.tensor([0.5, 1.0]), 10, "integers"),
        (torch.tensor([0, 1]), 0, "num_modes"),
    ],
)
def test_class_mode_coverage_rejects_bad_inputs(
    ids: torch.Tensor, num_modes: int, problem: str
) -> None:
    with pytest.raises(MetricInputError, match=rf"^class_modes: .*{problem}"):
        class_mode_coverage(ids, num_modes)


def test_class_modes_metric_applies_with_num_modes_and_a_mode_space() -> None:
    metric = METRICS.get("class_modes")
    assert DIGITS.eval_spec.num_modes == 10
    assert DATASETS.get("mnist5k")().eval_spec.num_modes == 10
    assert metric.applies(DIGITS.eval_spec, DIGITS.info) is None
    assert "num_modes" in (metric.applies(RING8.eval_spec, RING8.info) or "")
    fake = Features(randn(40, 4), modes=torch.arange(4).repeat(10))
    inputs = EvalInputs(torch.zeros(40, 1, 8, 8), fake, fake, DIGITS.eval_spec, DIGITS.info)
    out = metric.compute(inputs)
    assert out == {"class_modes": 4.0, "class_reverse_kl": pytest.approx(math.log(10 / 4))}
    assert set(out) == set(metric.directions)
    assert not set(out) & set(METRICS.get("modes").directions)  # never collides with `modes`


# ---------------------------------------------------------------- the classifier space


@pytest.fixture(scope="module")
def digits_space() -> tuple[dict, DataSplits, DataInfo]:
    """One classifier fit (in the session's temporary BENCH_CACHE_DIR, see conftest)."""
    splits = DIGITS.load()
    state = FEATURE_SPACES.get("classifier").fit(DIGITS.fingerprint("digits"), splits, DIGITS.info)
    return state, splits, DIGITS.info


def test_classifier_space_gives_predicted_classes_and_unit_scale(
    digits_space: tuple[dict, DataSplits, DataInfo],
) -> None:
    state, splits, info = digits_space
    extract = FEATURE_SPACES.get("classifier").extractor(state, info, "cpu")
    train, held = extract(splits.train), extract(splits.heldout)
    assert train.features.pow(2).mean().item() == pytest.approx(1.0, rel=1e-4)
    assert state["feature_scale"] > 0
    assert held.modes is not None and held.logits is not None
    assert held.modes.dtype == torch.int64 and torch.equal(held.modes, held.logits.argmax(1))
    assert (held.modes == splits.heldout_labels).double().mean() > 0.9
    assert class_mode_coverage(held.modes, 10)["modes"] == 10


def test_classifier_kid_has_inception_like_magnitudes(
    digits_space: tuple[dict, DataSplits, DataInfo],
) -> None:
    state, splits, info = digits_space
    extract = FEATURE_SPACES.get("classifier").extractor(state, info, "cpu")
    gen = torch.Generator().manual_seed(0)
    noisy = (splits.heldout + 0.3 * torch.rand(splits.heldout.shape, generator=gen)).clamp(0, 1)
    train = extract(splits.train).features
    close, _ = kid(train, extract(splits.heldout).features, subsets=30, subset_size=300)
    far, _ = kid(train, extract(noisy).features, subsets=30, subset_size=300)
    assert abs(close) < 0.05 and 0.05 < far < 5.0


# ---------------------------------------------------------------- the Inception space


@pytest.fixture
def no_inception_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty home and torch home, and no explicit weights path."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("BENCH_INCEPTION_WEIGHTS", raising=False)
    return tmp_path / "torch" / "hub" / "checkpoints" / features_module.INCEPTION_FILE


def test_missing_inception_weights_say_what_where_and_how(no_inception_weights: Path) -> None:
    assert features_module.INCEPTION_FILE == "weights-inception-2015-12-05-6726825d.pth"
    with pytest.raises(BenchError) as caught:
        inception_weights_path()
    message = str(caught.value)
    for needed in (
        "weights-inception-2015-12-05-6726825d.pth",
        "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/",
        str(no_inception_weights),
        "--inception-weights",
        "BENCH_INCEPTION_WEIGHTS",
    ):
        assert needed in message
    with pytest.raises(BenchError, match="weights-inception"):  # from fit, before any training
        FEATURE_SPACES.get("inception").fit(
            "digits-x", DataSplits(torch.zeros(1), torch.zeros(1)), DIGITS.info
        )


def test_explicit_inception_path_that_does_not_exist(
    no_inception_weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "nowhere" / "inception.pth"
    monkeypatch.setenv("BENCH_INCEPTION_WEIGHTS", str(missing))
    with pytest.raises(BenchError) as caught:
        inception_weights_path()
    message = str(caught.value)
    assert f"{missing} does not exist" in message and "BENCH_INCEPTION_WEIGHTS" in message
    assert "weights-inception-2015-12-05-6726825d.pth" in message


def test_inception_space_refuses_points(no_inception_weights: Path) -> None:
    with pytest.raises(BenchError, match="grey or RGB images"):
        FEATURE_SPACES.get("inception").fit("ring8-x", RING8.load(), RING8.info)


def test_uint8_conversion_rounds_like_save_image() -> None:
    x = torch.tensor([0.0, 0.5, 1.0, 1.2, -0.1, 0.1]).reshape(1, 1, 2, 3)
    out = features_module.to_uint8_rgb(x, (0.0, 1.0))
    assert out.dtype == torch.uint8 and out.shape == (1, 3, 2, 3)
    assert out[0, 0].flatten().tolist() == [0, 128, 255, 255, 0, 26]
    assert torch.equal(out[:, 0], out[:, 2])
    signed = features_module.to_uint8_rgb(torch.full((1, 3, 1, 1), -1.0), (-1.0, 1.0))
    assert signed.flatten().tolist() == [0, 0, 0]


@pytest.fixture(scope="module")
def random_inception(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.nn.Module]:
    """A weights file from a randomly initialised torch-fidelity InceptionV3 (its constructor
    always loads weights, so loading is switched off while it is built)."""
    path = tmp_path_factory.mktemp("inception") / "random-inception.pth"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tf_inception, "load_state_dict_from_url", lambda *a, **k: {})
        mp.setattr(
            tf_inception.FeatureExtractorInceptionV3, "load_state_dict", lambda *a, **k: None
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            net = tf_inception.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    torch.save(net.state_dict(), path)
    net.features_list = features_module.INCEPTION_LAYERS
    return path, net


def test_inception_space_loads_weights_and_matches_torch_fidelity(
    random_inception: tuple[Path, torch.nn.Module],
    no_inception_weights: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path, reference = random_inception
    no_inception_weights.parent.mkdir(parents=True)
    no_inception_weights.symlink_to(path)  # torch-fidelity's cache is found without the variable
    assert inception_weights_path() == no_inception_weights
    monkeypatch.setenv("BENCH_INCEPTION_WEIGHTS", str(path))  # the explicit path comes first
    assert inception_weights_path() == path

    space = FEATURE_SPACES.get("inception")
    assert space.gives_logits and not space.gives_modes
    images = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    state = space.fit("digits-x", DataSplits(images, images), DIGITS.info)
    assert state == {"weights": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    out = space.extractor(state, DIGITS.info, "cpu")(images)
    assert out.features.shape == (2, 2048) and out.features.dtype == torch.float64
    assert out.logits is not None and out.logits.shape == (2, 1008) and out.modes is None

    pixels = (images * 255 + 0.5).to(torch.uint8).repeat(1, 3, 1, 1)
    with torch.no_grad():
        feats, logits = reference(pixels)
    assert torch.equal(out.features, feats.double()) and torch.equal(out.logits, logits.double())


def test_unreadable_inception_weights_are_a_bench_error(
    no_inception_weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    monkeypatch.setenv("BENCH_INCEPTION_WEIGHTS", str(junk))
    with pytest.raises(BenchError, match=rf"cannot load InceptionV3 weights from {junk}"):
        features_module.load_inception(inception_weights_path())
