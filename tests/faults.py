"""A test-only model for fault injection, registered as a plugin ($BENCH_PLUGINS=tests.faults) so
that Ray's worker processes register it too. It is the standard GAN until a chosen step of its
first attempt, where it dies (`exit`: os._exit, as a killed worker), hangs until the test kills
its node or driver (`pause`), or raises (`raise`: a bug in the model, which must not be retried).
A marker file records that the fault happened, so a retry trains normally."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Literal

from bench.models import MODELS

NAME = "t_fault"
Gan = MODELS.get("gan")


class FaultParams(Gan.HParams):
    fault: Literal["exit", "pause", "raise"] = "exit"
    fault_at: int = 15  # the train_step call of the first attempt at which the fault happens
    marker: str  # a file path, unique per trial: exists once the fault has happened


class FaultyGan(Gan):
    description = "test only: a GAN that fails on purpose once"
    HParams = FaultParams

    def __init__(self, hparams, info) -> None:
        super().__init__(hparams, info)
        self.calls = 0

    def train_step(self, batch):
        self.calls += 1
        marker = Path(self.hparams.marker)
        if self.hparams.fault == "raise" and self.calls == self.hparams.fault_at:
            raise RuntimeError("injected model bug")
        if self.calls == self.hparams.fault_at and not marker.exists():
            import ray

            marker.write_text(ray.get_runtime_context().get_node_id())
            if self.hparams.fault == "exit":
                os._exit(1)
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:  # until the test takes the node or driver away
                time.sleep(0.2)
        return super().train_step(batch)


if NAME not in MODELS.names():
    MODELS.register(NAME)(FaultyGan)
