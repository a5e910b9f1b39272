"""Small, fast training set-ups shared by the tests."""

from __future__ import annotations

import lightning as L

from lightning_occ.data import TabularDataModule
from lightning_occ.models import OCSDF
from lightning_occ.utils.trainers import quiet_trainer


def tiny_trainer(**overrides) -> L.Trainer:
    return quiet_trainer(**{"accelerator": "cpu", "max_epochs": 3, **overrides})


def trained_tiny_ocsdf(
    epochs: int = 300, dataset: str = "breast_cancer", seed: int = 0
) -> tuple[OCSDF, TabularDataModule]:
    L.seed_everything(seed, verbose=False)
    datamodule = TabularDataModule(dataset, seed=seed)
    model = OCSDF(width=64, depth=3, warmup_epochs=epochs // 3, negative_steps=4, lr=1e-3)
    tiny_trainer(max_epochs=epochs, limit_val_batches=0).fit(model, datamodule=datamodule)
    return model, datamodule
