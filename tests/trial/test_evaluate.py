"""The evaluator's data path: reference and held-out embeddings cached on disk once per
(dataset, split, feature space, count), and metrics on given samples without a model."""

from __future__ import annotations

import torch

from bench.io import cache_dir
from bench.trial import evaluate
from bench.trial.evaluate import Evaluator, digest, prepare_dataset


def cached_files(key_part: str) -> list:
    return sorted((cache_dir() / "features").glob(f"*{key_part}*"))


def test_reference_and_heldout_embeddings_are_cached_and_reused(monkeypatch) -> None:
    first = prepare_dataset("ring8", {"n_samples": 600}, "ring8", n_reference=123)
    files = [f for f in cached_files("-n123") if "ring8" in f.name]
    assert len(files) == 1
    calls = []

    def counting_extract(x):  # would be called only on a cache miss
        calls.append(len(x))
        raise AssertionError("the cache should have answered")

    monkeypatch.setattr(
        evaluate.FEATURE_SPACES.get("raw"), "extractor", lambda *a, **k: counting_extract
    )
    second = prepare_dataset("ring8", {"n_samples": 600}, "ring8", n_reference=123)
    assert calls == []
    assert torch.equal(first.reference.features, second.reference.features)
    assert torch.equal(first.heldout.features, second.heldout.features)
    assert len(second.heldout.features) == len(second.splits.heldout)


def test_a_corrupt_cache_file_is_recomputed_not_trusted() -> None:
    clean = prepare_dataset("ring8", {"n_samples": 500}, "ring8", n_reference=77)
    (path,) = [f for f in cached_files("-n77") if "ring8" in f.name]
    path.write_bytes(b"not a torch file")
    again = prepare_dataset("ring8", {"n_samples": 500}, "ring8", n_reference=77)
    assert torch.equal(clean.reference.features, again.reference.features)
    assert path.stat().st_size > 100  # rewritten


def test_digest_changes_with_the_fitted_state() -> None:
    a = {"w": torch.zeros(3), "arch": {"width": 2}}
    assert digest(a) == digest({"arch": {"width": 2}, "w": torch.zeros(3)})
    assert digest(a) != digest({"w": torch.ones(3), "arch": {"width": 2}})
    assert digest(a) != digest({"w": torch.zeros(3), "arch": {"width": 3}})


def test_measure_given_samples_without_a_model() -> None:
    assets = prepare_dataset("ring8", {"n_samples": 800}, "ring8", n_reference=200)
    evaluator = Evaluator(assets, ["modes", "fid"], n_samples=0, device=torch.device("cpu"))
    result = evaluator.measure(assets.splits.heldout)
    assert result.values["modes"] == 8
    assert result.values["fid"] < 0.1
    broken = assets.splits.heldout.clone()
    broken[0, 0] = float("nan")
    assert set(evaluator.measure(broken).not_computable) == {"modes", "fid"}
