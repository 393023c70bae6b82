"""Datasets: importing this package registers every family in `DATASETS`."""

from bench.data import (  # noqa: F401  (registration side effects)
    digits,
    files,
    mixtures,
    paired,
    stacked,
)
from bench.data.base import DATASETS, DataInfo, Dataset, DatasetParams, DataSplits, EvalSpec

__all__ = ["DATASETS", "DataInfo", "DataSplits", "Dataset", "DatasetParams", "EvalSpec"]
