"""Models: importing this package registers every model in `MODELS`, one module each (every
module of the package is imported; a new model is one new file)."""

from bench.models.base import MODELS, Batch, GenerativeModel, HParams
from bench.registry import import_submodules

import_submodules(__name__)

__all__ = ["MODELS", "Batch", "GenerativeModel", "HParams"]
