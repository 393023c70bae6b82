"""The evaluator: sample n -> feature space -> every metric, identically for every model.

`prepare_dataset` runs once per dataset on the driver (load the data, fit the feature space,
embed the reference split); its `DatasetAssets` travel to every trial through Ray's object store.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from bench.data import DATASETS, DataInfo, DataSplits, EvalSpec
from bench.metrics import FEATURE_SPACES, METRICS, EvalInputs, Features, MetricInputError
from bench.models.base import GenerativeModel

SAMPLE_BATCH = 1000  # generate in chunks so large eval_samples never hold a huge graph/batch
REFERENCE_SEED = 1234  # which training points form the reference set; fixed so runs compare


@dataclass
class DatasetAssets:
    """Everything a trial needs from its dataset, prepared once per suite run."""

    name: str
    label: str
    info: DataInfo
    spec: EvalSpec
    splits: DataSplits
    feature_state: dict | None
    reference: Features  # the reference subset of the training split in the feature space
    heldout: Features  # the held-out split in the feature space


@dataclass
class Evaluation:
    step: int
    values: dict[str, float] = field(default_factory=dict)
    not_computable: dict[str, str] = field(default_factory=dict)  # metric -> reason
    samples: torch.Tensor | None = None  # CPU, data space


def prepare_dataset(name: str, params: dict, label: str, n_reference: int) -> DatasetAssets:
    """Load a dataset, fit its feature space (cached on disk) and embed a reference subset of the
    training split of at most `n_reference` points."""
    dataset_cls = DATASETS.get(name)
    dataset = dataset_cls(dataset_cls.Params(**params))
    splits = dataset.load()
    space = FEATURE_SPACES.get(dataset.eval_spec.feature_space)
    state = space.fit(dataset.fingerprint(name), splits, dataset.info)
    extract = space.extractor(state, dataset.info, torch.device("cpu"))
    gen = torch.Generator().manual_seed(REFERENCE_SEED)
    subset = torch.randperm(len(splits.train), generator=gen)[:n_reference]
    return DatasetAssets(
        name=name,
        label=label,
        info=dataset.info,
        spec=dataset.eval_spec,
        splits=splits,
        feature_state=state,
        reference=extract(splits.train[subset]),
        heldout=extract(splits.heldout),
    )


class Evaluator:
    """Measures a model with the metrics chosen for its trial, in its dataset's feature space."""

    def __init__(
        self, assets: DatasetAssets, metric_names: list[str], n_samples: int, device: torch.device
    ) -> None:
        self.assets = assets
        self.metrics = [(name, METRICS.get(name)) for name in metric_names]
        self.n_samples = n_samples
        space = FEATURE_SPACES.get(assets.spec.feature_space)
        self.extract = space.extractor(assets.feature_state, assets.info, device)

    def __call__(self, model: GenerativeModel, step: int, seed: int) -> Evaluation:
        model.fit_sampler(self.assets.splits)
        samples = generate(model, self.n_samples, seed)
        if not torch.isfinite(samples).all():
            reason = "generated samples contain NaN or inf"
            return Evaluation(
                step, not_computable=dict.fromkeys(self.names, reason), samples=samples
            )
        inputs = EvalInputs(
            samples=samples,
            fake=self.extract(samples),
            real=self.assets.reference,
            spec=self.assets.spec,
            info=self.assets.info,
            heldout=self.assets.heldout,
            model=model,
            data=self.assets.splits,
        )
        evaluation = Evaluation(step, samples=samples)
        for name, metric in self.metrics:
            try:
                evaluation.values.update(metric.compute(inputs))
            except MetricInputError as exc:
                evaluation.not_computable[name] = str(exc)
        return evaluation

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.metrics]


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
