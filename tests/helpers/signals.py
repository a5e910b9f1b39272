"""A callback that sends the training process a real SIGTERM at a chosen batch (preemption)."""

from __future__ import annotations

import os
import signal

import lightning as L


class SigtermAt(L.Callback):
    def __init__(self, epoch: int, batch: int) -> None:
        self.epoch, self.batch = epoch, batch

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int
    ) -> None:
        if trainer.current_epoch == self.epoch and batch_idx == self.batch:
            os.kill(os.getpid(), signal.SIGTERM)
