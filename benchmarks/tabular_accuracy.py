"""Breast cancer (benign = normal), one-class protocol, 70/30 stratified split, 3 seeds:
OCSDF (configs/ocsdf/breast_cancer.yaml settings: lambda 3, lr decay, the epoch with the best validation
AUROC) against kNN (k=5) and OC-SVM, clean and certified.

    python benchmarks/tabular_accuracy.py [--seeds 0 1 2] [--epochs 450] [--last]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint
from sklearn.metrics import roc_auc_score
from sklearn.svm import OneClassSVM

from configs import model_from_config  # benchmarks/ is on sys.path when run as a script
from lightning_occ.data import TabularDataModule
from lightning_occ.models import OCSDF, KNNDetector
from lightning_occ.utils.trainers import quiet_trainer

RADII = [0.25, 0.5, 1.0]


def trainer(epochs: int, select_dir: str | None = None, val_every: int = 25) -> L.Trainer:
    """A CPU trainer; with ``select_dir``, validate every 25 epochs and keep the best val/auroc (as the config does)."""
    callbacks = (
        [ModelCheckpoint(select_dir, filename="best", monitor="val/auroc", mode="max", enable_version_counter=False)]
        if select_dir
        else []
    )
    return quiet_trainer(
        max_epochs=epochs,
        accelerator="cpu",
        callbacks=callbacks,
        enable_checkpointing=bool(select_dir),
        check_val_every_n_epoch=val_every,
        limit_val_batches=1.0 if select_dir else 0,
    )


def row(result: dict[str, float]) -> list[float]:
    return [result["test/auroc"]] + [result[f"test/certified_auroc@{r:g}"] for r in RADII]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=450)
    parser.add_argument("--lr_final", type=float, default=5e-6, help="linear learning-rate decay target")
    parser.add_argument("--lam", type=float, default=3.0, help="HKR lambda")
    parser.add_argument("--last", action="store_true", help="test the last epoch instead of the best val/auroc")
    parser.add_argument("--val_every", type=int, default=10, help="validation (and selection) period in epochs")
    parser.add_argument("--std_scale", type=float, default=1.0, help="OCSDF negative_std_scale")
    args = parser.parse_args()
    table: dict[str, list[list[float]]] = {"OCSDF": [], "kNN (k=5)": [], "OC-SVM (clean only)": []}
    for seed in args.seeds:
        L.seed_everything(seed, verbose=False)
        dm = TabularDataModule("breast_cancer", seed=seed)
        model = model_from_config(
            "ocsdf/breast_cancer.yaml",
            warmup_epochs=args.epochs // 9,
            epsilons=RADII,
            lr_final=args.lr_final,
            lam=args.lam,
            negative_std_scale=args.std_scale,
        )
        with tempfile.TemporaryDirectory() as folder:
            fit = trainer(args.epochs, None if args.last else folder, args.val_every)
            fit.fit(model, datamodule=dm)
            if not args.last:
                model = OCSDF.load_from_checkpoint(fit.checkpoint_callback.best_model_path)
        table["OCSDF"].append(row(trainer(1).test(model, datamodule=dm, verbose=False)[0]))
        knn = KNNDetector(k=5, epsilons=RADII)
        knn.fit_bank(dm.train_features())
        table["kNN (k=5)"].append(row(trainer(1).test(knn, datamodule=dm, verbose=False)[0]))
        x_test, y_test = dm.test_dataset.tensors
        svm = OneClassSVM(gamma="scale").fit(dm.train_features().numpy())
        table["OC-SVM (clean only)"].append([roc_auc_score(y_test, -svm.decision_function(x_test.numpy()))])
        print(f"seed {seed}: " + ", ".join(f"{k} {v[-1][0]:.3f}" for k, v in table.items()), flush=True)
    header = "| method | AUROC | " + " | ".join(f"cert. @{r:g}" for r in RADII) + " |"
    print(f"\nmean over seeds {args.seeds}\n{header}\n|---|---|---|---|---|")
    for name, rows in table.items():
        means = [statistics.mean(col) for col in zip(*rows)]
        cells = [f"{m:.4f}" for m in means] + ["-"] * (1 + len(RADII) - len(means))
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
