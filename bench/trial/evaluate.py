"""The evaluator: sample n -> model probes -> feature space -> every metric, identically for
every model. Metrics never see the model: what they need from it (reconstructions, ELBO terms,
codes, translations) the evaluator measures first with the probes they name (bench/probes/),
each probe once per evaluation, and hands over as tensors in `EvalInputs.probes`.

`prepare_dataset` runs once per dataset on the driver (load the data, fit the feature space,
embed the reference split; the same in every further space a suite lists, bench.trial.spaces);
its `DatasetAssets` travel to every trial through Ray's object store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from bench.data import DATASETS, DataInfo, DataSplits, EvalSpec
from bench.metrics import FEATURE_SPACES, METRICS, EvalInputs, Features, MetricInputError
from bench.metrics.base import HistoryInputs, Metric, space_key
from bench.models.base import GenerativeModel
from bench.probes import run_probes, unmeasurable
from bench.trial.spaces import (
    REFERENCE_SEED,
    FurtherSpace,
    SpaceAssets,
    digest,
    embed_space,
    stopwatch,
)

SAMPLE_BATCH = 1000  # generate in chunks so large eval_samples never hold a huge graph/batch


@dataclass
class DatasetAssets:
    """Everything a trial needs from its dataset, prepared once per suite run."""

    name: str
    label: str
    info: DataInfo
    spec: EvalSpec
    splits: DataSplits
    feature_state: dict | None
    reference_index: torch.Tensor  # rows of splits.train that form the reference subset
    reference: Features  # the reference subset of the training split in the feature space
    heldout: Features  # the held-out split in the feature space
    # the further feature spaces a suite lists after the primary one (`spec.feature_space`)
    further: list[SpaceAssets] = field(default_factory=list)

    @property
    def spaces(self) -> tuple[str, ...]:
        """Every feature space it is measured in, the primary one first."""
        return (self.spec.feature_space, *(space.name for space in self.further))


@dataclass
class Evaluation:
    step: int
    values: dict[str, float] = field(default_factory=dict)
    not_computable: dict[str, str] = field(default_factory=dict)  # metric -> reason
    samples: torch.Tensor | None = None  # CPU, data space
    features: Features | None = None  # the samples in the feature space
    # wall seconds per metric, its probes' share included (a probe shared by several metrics is
    # counted for the first that needs it); "embedding" maps the samples into the feature space
    seconds: dict[str, float] = field(default_factory=dict)


def prepare_dataset(
    name: str,
    params: dict,
    label: str,
    n_reference: int,
    spaces: Sequence[str] | None = None,
) -> DatasetAssets:
    """Load a registered dataset and embed it (see `embed_dataset`)."""
    dataset_cls = DATASETS.get(name)
    dataset = dataset_cls(dataset_cls.Params(**params))
    splits = dataset.load()
    basis = dataset.feature_basis()
    fit_on = None if basis is dataset else (basis.load(), basis.fingerprint(name))
    return embed_dataset(
        name,
        label,
        dataset.info,
        dataset.eval_spec,
        splits,
        dataset.fingerprint(name),
        n_reference,
        fit_on=fit_on,
        spaces=spaces,
    )


def embed_dataset(
    name: str,
    label: str,
    info: DataInfo,
    spec: EvalSpec,
    splits: DataSplits,
    fingerprint: str,
    n_reference: int,
    fit_on: tuple[DataSplits, str] | None = None,
    spaces: Sequence[str] | None = None,
) -> DatasetAssets:
    """Fit the dataset's feature space (cached on disk) and embed a reference subset of the
    training split of at most `n_reference` points and the held-out split (both cached on disk
    per dataset, split, feature space and count, so a suite never embeds them twice). `fit_on`:
    other (splits, fingerprint) to fit the space on (`Dataset.feature_basis`). `spaces`: the
    suite's `feature_spaces` for the dataset, which replace its own; the first is the primary."""
    if spaces:
        spec = replace(spec, feature_space=spaces[0])
    gen = torch.Generator().manual_seed(REFERENCE_SEED)
    subset = torch.randperm(len(splits.train), generator=gen)[:n_reference]
    primary, *further = (
        embed_space(space, info, splits, subset, fingerprint, fit_on)
        for space in (spaces or [spec.feature_space])
    )
    return DatasetAssets(
        name=name,
        label=label,
        info=info,
        spec=spec,
        splits=splits,
        feature_state=primary.state,
        reference_index=subset,
        reference=primary.reference,
        heldout=primary.heldout,
        further=further,
    )


class Evaluator:
    """Measures a model with the metrics chosen for its trial, in its dataset's feature space."""

    def __init__(
        self, assets: DatasetAssets, metric_names: list[str], n_samples: int, device: torch.device
    ) -> None:
        self.assets = assets
        chosen = [(name, METRICS.get(name)) for name in metric_names]
        self.sampled = sampled = [(name, m) for name, m in chosen if not m.over_history]
        # a metric of the features that does not apply in the primary space (IS where it has no
        # logits) is measured only in the further spaces where it does: not reported, no error
        self.metrics = [
            (name, m)
            for name, m in sampled
            if not m.per_space or m.applies(assets.spec, assets.info) is None
        ]
        self.history_metrics = [(name, m) for name, m in chosen if m.over_history]
        self.n_samples = n_samples
        space = FEATURE_SPACES.get(assets.spec.feature_space)
        self.extract = space.extractor(assets.feature_state, assets.info, device)
        self.prepared = {name: metric.prepare(assets.reference) for name, metric in self.metrics}
        self.further = [
            FurtherSpace(other, assets.spec, assets.info, sampled, device)
            for other in assets.further
        ]

    def __call__(self, model: GenerativeModel, step: int, seed: int) -> Evaluation:
        model.fit_sampler(self.assets.splits)
        samples = generate(model, self.n_samples, seed)
        return self.measure(samples, step, model)

    def measure(
        self, samples: torch.Tensor, step: int = 0, model: GenerativeModel | None = None
    ) -> Evaluation:
        """Every metric on given samples (data space, CPU). Metrics whose probes call the model
        need `model`; without it they are recorded as not computable."""
        if not torch.isfinite(samples).all():
            reason = "generated samples contain NaN or inf"
            return Evaluation(
                step, not_computable=dict.fromkeys(self.names, reason), samples=samples
            )
        refused = self.refused(model)
        seconds: dict[str, float] = {}
        with stopwatch(seconds, "embedding"):
            fake = self.extract(samples)
        probes: dict[str, torch.Tensor] = {}
        failed: dict[str, str] = {}
        ran: set[str] = set()  # probe names (their tensors have keys of their own)
        for name, metric in self.metrics:  # each metric's probes timed as its own cost
            if name not in refused:
                with stopwatch(seconds, name):
                    new = [p for p in metric.probes if p not in ran]
                    found, lost = run_probes(
                        new, model, self.assets.splits, self.assets.spec, self.extract
                    )
                ran.update(new)
                probes.update(found)
                failed.update(lost)
        inputs = EvalInputs(
            samples=samples,
            fake=fake,
            real=self.assets.reference,
            spec=self.assets.spec,
            info=self.assets.info,
            heldout=self.assets.heldout,
            probes=probes,
        )
        evaluation = Evaluation(step, samples=samples, features=fake, seconds=seconds)
        for name, metric in self.metrics:
            reason = refused.get(name) or first_failure(metric, failed)
            if reason is not None:
                evaluation.not_computable[name] = reason
                continue
            try:
                with stopwatch(seconds, name):
                    evaluation.values.update(metric.compute(inputs, self.prepared[name]))
            except MetricInputError as exc:
                evaluation.not_computable[name] = str(exc)
        for space in self.further:
            space.measure(samples, refused, evaluation.values, evaluation.not_computable, seconds)
        return evaluation

    def protocol(self) -> dict[str, Any]:
        """How every number of this evaluator is measured (see `measurement_protocol`)."""
        names = [name for name, _ in self.metrics + self.history_metrics]
        return measurement_protocol(self.assets, self.n_samples, names)

    def refused(self, model: GenerativeModel | None) -> dict[str, str]:
        """Metric name -> why it cannot measure this model (or, without one, these samples)."""
        cls = None if model is None else type(model)
        reasons = {name: unmeasurable(metric, cls) for name, metric in self.sampled}
        return {name: reason for name, reason in reasons.items() if reason is not None}

    def finish(
        self, evaluation: Evaluation, history: list[dict[str, float]], model: GenerativeModel
    ) -> Evaluation:
        """Add the metrics over training (stability) to a trial's last evaluation, measured on
        its whole logged history with the roles its model declares for each logged key."""
        inputs = HistoryInputs(
            history=history,
            roles={key: d.role for key, d in model.diagnostics.items()},
            d_probabilities=model.discriminator_probabilities,
        )
        for name, metric in self.history_metrics:
            if not history:
                evaluation.not_computable[name] = "no training step was logged"
                continue
            try:
                evaluation.values.update(metric.compute(inputs))
            except MetricInputError as exc:
                evaluation.not_computable[name] = str(exc)
        return evaluation

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.metrics]


def measurement_protocol(
    assets: DatasetAssets, n_samples: int, metric_names: list[str]
) -> dict[str, Any]:
    """What a number depends on besides the model ("which FID is this?"): the feature space and
    a hash of its fitted state (the weights file's for InceptionV3), and of every further space
    (`extractor@dinov2`), the generated, reference
    and held-out sample counts, how the reference set is drawn, each metric's own settings
    (`Metric.settings`, e.g. prdc's k), and the versions of the libraries that compute them."""
    protocol: dict[str, Any] = {
        "feature_space": assets.spec.feature_space,
        "extractor": "none" if assets.feature_state is None else digest(assets.feature_state),
        "n_generated": n_samples,
        "n_reference": len(assets.reference.features),
        "reference_split": f"train, subset drawn with seed {REFERENCE_SEED}",
        "n_heldout": len(assets.heldout.features),
    }
    # only when a suite lists further spaces: protocols of other runs stay as they were
    protocol.update({space_key("extractor", s.name): s.extractor_hash for s in assets.further})
    for name in metric_names:
        protocol.update({f"{name}.{k}": v for k, v in METRICS.get(name).settings.items()})
    protocol["versions"] = library_versions()
    return protocol


def library_versions() -> dict[str, str]:
    """bench's, torch's and torch-fidelity's versions (read from the installed metadata, so
    nothing heavy is imported)."""
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for package in ("bench", "torch", "torch-fidelity"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"
    return found


def first_failure(metric: Metric, failed: dict[str, str]) -> str | None:
    """Why the first of the metric's probes that failed did (None when none did)."""
    return next((failed[name] for name in metric.probes if name in failed), None)


@torch.no_grad()
def generate(model: GenerativeModel, n: int, seed: int) -> torch.Tensor:
    """n samples on the CPU from a generator of its own, leaving the training RNG untouched; the
    same seed at every evaluation, so scores move with the model and not with the noise draw."""
    was_training = model.training
    model.eval()
    try:
        gen = torch.Generator(device=model.device).manual_seed(seed)
        chunks = [
            model.sample(min(SAMPLE_BATCH, n - start), generator=gen).cpu()
            for start in range(0, n, SAMPLE_BATCH)
        ]
    finally:
        model.train(was_training)
    return torch.cat(chunks).float()
