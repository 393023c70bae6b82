"""bench: a distributed benchmark harness for generative models."""

__version__ = "0.1.0"
