"""Reproducing published numbers: `compare` judges a finished run against its suite's `published:`
values; `run.reproduce_run` writes the report (rendered by bench.report.reproduction)."""
