"""Small, fast training set-ups shared by the tests."""

from __future__ import annotations

import lightning as L

from lightning_occ.data import TabularDataModule
from lightning_occ.models import OCSDF


def tiny_trainer(**overrides) -> L.Trainer:
    options = dict(
        accelerator="cpu", devices=1, max_epochs=3, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
    )
    options.update(overrides)
    return L.Trainer(**options)


def trained_tiny_ocsdf(epochs: int = 300, dataset: str = "breast_cancer", seed: int = 0) -> tuple[OCSDF, TabularDataModule]:
    L.seed_everything(seed, verbose=False)
    datamodule = TabularDataModule(dataset, seed=seed)
    model = OCSDF(width=64, depth=3, warmup_epochs=epochs // 3, negative_steps=4, lr=1e-3)
    tiny_trainer(max_epochs=epochs, limit_val_batches=0).fit(model, datamodule=datamodule)
    return model, datamodule
