"""Datasets: importing this package registers every family in `DATASETS` (every module of the
package is imported; a new dataset is one new file)."""

from bench.data.base import DATASETS, DataInfo, Dataset, DatasetParams, DataSplits, EvalSpec
from bench.registry import import_submodules

import_submodules(__name__)

__all__ = ["DATASETS", "DataInfo", "DataSplits", "Dataset", "DatasetParams", "EvalSpec"]
