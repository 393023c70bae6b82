"""Datasets: importing this package registers every family in `DATASETS`."""

from bench.data import digits, mixtures  # noqa: F401  (registration side effects)
from bench.data.base import DATASETS, DataInfo, Dataset, DatasetParams, DataSplits, EvalSpec

__all__ = ["DATASETS", "DataInfo", "DataSplits", "Dataset", "DatasetParams", "EvalSpec"]
