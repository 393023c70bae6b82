"""Models: importing this package registers every model in `MODELS`."""

from bench.models import autoencoders, cyclegan, gan, gans, progan, stylegan, vae  # noqa: F401  (registration side effects)
from bench.models.base import MODELS, Batch, GenerativeModel, HParams

__all__ = ["MODELS", "Batch", "GenerativeModel", "HParams"]
