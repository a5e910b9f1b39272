"""Quickstart: train OCSDF on two moons, evaluate its certified AUROC, and plot it.

python examples/quickstart.py [--epochs 100] [--out results/quickstart]
"""

from __future__ import annotations

import argparse

import lightning as L

import lightning_occ as lo


def main(epochs: int = 100, out: str = "results/quickstart") -> dict[str, float]:
    L.seed_everything(0)
    datamodule = lo.TabularDataModule("two_moons", n_samples=1000, seed=0)
    model = lo.OCSDF(width=128, depth=3, warmup_epochs=max(1, epochs // 10), lr=1e-3, epsilons=[0.05, 0.1, 0.2])
    report = lo.CertifiedReport(out_dir=out)  # prints the table, writes results.json and the plots
    trainer = L.Trainer(
        max_epochs=epochs,
        accelerator="auto",
        devices=1,
        logger=False,
        callbacks=[report],
        enable_checkpointing=False,
        enable_progress_bar=False,
        check_val_every_n_epoch=10,
    )
    trainer.fit(model, datamodule=datamodule)  # train
    return trainer.test(model, datamodule=datamodule, verbose=False)[0]  # evaluate and report


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--out", default="results/quickstart")
    main(**vars(parser.parse_args()))
