"""Feature spaces of a trial's evaluations: the real splits embedded in a space once (cached on
disk), and the metrics of the features measured in a further space, one that a suite's
`feature_spaces:` lists after the primary one. Their keys carry the space's name (`fid@dinov2`,
bench.metrics.base.space_key); the primary space is the evaluator's own (bench.trial.evaluate).
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Container, Iterator
from dataclasses import dataclass, replace
from typing import Any

import torch

from bench.data import DataInfo, DataSplits, EvalSpec
from bench.io import cache_dir, write_with
from bench.metrics import FEATURE_SPACES, EvalInputs, Features, MetricInputError
from bench.metrics.base import Metric, space_key
from bench.metrics.features import Extractor

REFERENCE_SEED = 1234  # which training points form the reference set; fixed so runs compare


@dataclass
class SpaceAssets:
    """One feature space of a dataset: its fitted state and the real splits in it."""

    name: str
    state: dict | None
    reference: Features  # the reference subset of the training split
    heldout: Features  # the held-out split

    @property
    def extractor_hash(self) -> str:
        """What the protocol records of the space's network ("none": a space with no state)."""
        return "none" if self.state is None else digest(self.state)


def embed_space(
    name: str,
    info: DataInfo,
    splits: DataSplits,
    subset: torch.Tensor,
    fingerprint: str,
    fit_on: tuple[DataSplits, str] | None = None,
) -> SpaceAssets:
    """Fit the feature space `name` (cached on disk by the space) and embed the `subset` rows of
    the training split and the held-out split in it (cached per dataset, split, space, network
    and count). `fit_on`: other (splits, fingerprint) to fit the space on."""
    space = FEATURE_SPACES.get(name)
    fit_splits, fit_fingerprint = fit_on or (splits, fingerprint)
    state = space.fit(fit_fingerprint, fit_splits, info)
    extract = space.extractor(state, info, torch.device("cpu"))
    key = f"{fingerprint}-{name}-{digest(state)}"
    return SpaceAssets(
        name=name,
        state=state,
        reference=embed_cached(f"{key}-train{REFERENCE_SEED}", splits.train[subset], extract),
        heldout=embed_cached(f"{key}-heldout", splits.heldout, extract),
    )


def digest(obj: Any) -> str:
    """A short content hash of a feature space's fitted state (tensors, dicts, plain values), so
    cached embeddings are never reused with a different network."""
    h = hashlib.sha256()

    def feed(value: Any) -> None:
        if isinstance(value, torch.Tensor):
            h.update(value.detach().cpu().contiguous().numpy().tobytes())
        elif isinstance(value, dict):
            for k in sorted(value, key=str):
                h.update(str(k).encode())
                feed(value[k])
        elif isinstance(value, list | tuple):
            for item in value:
                feed(item)
        else:
            h.update(repr(value).encode())

    feed(obj)
    return h.hexdigest()[:12]


def embed_cached(key: str, x: torch.Tensor, extract: Extractor) -> Features:
    """`extract(x)`, read from or written to the feature cache under `key` and the row count. A
    corrupt cache file is recomputed and replaced, never trusted."""
    path = cache_dir() / "features" / f"{key}-n{len(x)}.pt"
    if path.exists():
        try:
            stored = torch.load(path, map_location="cpu", weights_only=True)
            return Features(**stored)
        except Exception:  # a torn or foreign file: recompute below
            path.unlink(missing_ok=True)
    features = extract(x)
    write_with(path, lambda handle: torch.save(vars(features), handle))
    return features


@contextlib.contextmanager
def stopwatch(seconds: dict[str, float], key: str) -> Iterator[None]:
    """Add the wall time of the block to seconds[key]."""
    start = time.perf_counter()
    try:
        yield
    finally:
        seconds[key] = seconds.get(key, 0.0) + time.perf_counter() - start


class FurtherSpace:
    """The metrics of the features (`Metric.per_space`) that apply in one further space, ready
    to measure samples there. A metric that does not apply in it (IS where the space has no
    logits) is not reported there; that is no failure."""

    def __init__(
        self,
        assets: SpaceAssets,
        spec: EvalSpec,
        info: DataInfo,
        metrics: list[tuple[str, Metric]],
        device: torch.device | str,
    ) -> None:
        self.assets, self.info = assets, info
        self.spec = replace(spec, feature_space=assets.name)
        self.metrics = [
            (name, m) for name, m in metrics if m.per_space and m.applies(self.spec, info) is None
        ]
        space = FEATURE_SPACES.get(assets.name)
        self.extract = space.extractor(assets.state, info, device) if self.metrics else None
        self.prepared = {name: m.prepare(assets.reference) for name, m in self.metrics}

    @property
    def name(self) -> str:
        return self.assets.name

    def measure(
        self,
        samples: torch.Tensor,
        skip: Container[str],
        values: dict[str, float],
        not_computable: dict[str, str],
        seconds: dict[str, float],
    ) -> None:
        """Add the values of every metric but those in `skip` (refused for the model) under
        their keys in this space; a metric that cannot be computed is noted under its name in
        this space (`fid@dinov2`)."""
        if self.extract is None:
            return
        with stopwatch(seconds, space_key("embedding", self.name)):
            fake = self.extract(samples)
        inputs = EvalInputs(
            samples=samples,
            fake=fake,
            real=self.assets.reference,
            spec=self.spec,
            info=self.info,
            heldout=self.assets.heldout,
        )
        for name, metric in self.metrics:
            if name in skip:
                continue
            key = space_key(name, self.name)
            try:
                with stopwatch(seconds, key):
                    found = metric.compute(inputs, self.prepared[name])
            except MetricInputError as exc:
                not_computable[key] = str(exc)
                continue
            values.update({space_key(k, self.name): v for k, v in found.items()})
