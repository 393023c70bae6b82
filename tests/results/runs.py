"""Runs made in this process, without Ray: each trial through bench.trial.train.run_trial, each
report through the results store's own writer, exactly as the runner's callback does."""

from __future__ import annotations

from pathlib import Path

from bench.report.markdown import write_leaderboard
from bench.results.record import TrialRecord, count_statuses
from bench.results.store import RunStore
from bench.suite import expand, parse_suite
from bench.trial.evaluate import prepare_dataset
from bench.trial.report import TrialReport
from bench.trial.train import run_trial

KEPT_SUITE = """\
name: kept
seeds: [3]
budget: {{steps: 20, eval_every: 10, eval_samples: 200}}
datasets: [ring8]
models:
  - {{name: gan, hparams: {{hidden: 16, batch_size: 32}}}}
  - {{name: ae, hparams: {{hidden: 16, batch_size: 32, latent_dim: 2}}}}
metrics: [fid, modes]
tracking: {{wandb: disabled}}
{extra}
"""


def run_in_process(root: Path, text: str) -> Path:
    """A complete run folder of the suite `text` (one dataset, prepared as the driver does)."""
    suite = parse_suite(text)
    trials = expand(suite)
    ref = suite.datasets[0]
    assets = prepare_dataset(
        ref.name, ref.params, ref.label, suite.budget.eval_samples, suite.spaces_of(ref)
    )
    store = RunStore.create(root, suite, len(trials))
    records = []
    for trial in trials:
        store.write_config(trial)
        record = TrialRecord(trial)

        def report(sent: TrialReport, record: TrialRecord = record) -> None:
            record.absorb(sent)
            store.write_trial(record, sent.files)

        run_trial(trial, assets, report)
        records.append(record)
    board = store.finish("complete", count_statuses(records))
    write_leaderboard(store.path, board)
    return store.path
