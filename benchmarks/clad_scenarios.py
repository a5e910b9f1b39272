"""CLAD on latent multi-class scenarios over seeds, next to kNN and OC-SVM on the same splits
(OCSDF on digits: benchmarks/digits_scenarios.py, same seeds and splits).

    python benchmarks/clad_scenarios.py [--config configs/clad/digits_cur.yaml] [--seeds 0 1 2]
        [--scenarios CUR STR MIX] [--set classifier_epochs=10 ...]

    # MNIST on a CPU budget (real data in ../shared/data):
    LIGHTNING_OCC_DATA=../shared/data python benchmarks/clad_scenarios.py --config configs/clad/mnist_cur.yaml \
        --seeds 0 --set ae_epochs=5 dec_epochs=5 classifier_epochs=2

Every CLAD setting not given with --set comes from the config; the dataset and batch size too.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import lightning as L
import yaml
from sklearn.metrics import roc_auc_score
from sklearn.svm import OneClassSVM

from lightning_occ.data import ScenarioDataModule
from lightning_occ.models import CLAD, KNNDetector
from lightning_occ.utils.trainers import quiet_trainer

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "clad" / "digits_cur.yaml"
PAPER = {"mnist": {"CUR": 0.940, "STR": 0.961, "MIX": 0.926}}


def trainer(epochs: int = 1, validate: bool = False) -> L.Trainer:
    """Validation (where ODIN candidates are chosen) only when fitting with ``validate``."""
    return quiet_trainer(max_epochs=epochs, accelerator="cpu", limit_val_batches=1.0 if validate else 0)


def oc_svm_auroc(dm: ScenarioDataModule) -> float:
    train = dm.train_features().flatten(1).numpy()
    test = dm.test_dataset
    x = test.images.float().div(255).flatten(1).numpy()
    svm = OneClassSVM(gamma="scale", nu=0.1).fit(train)
    return float(roc_auc_score(test.is_anomaly.numpy(), -svm.score_samples(x)))


def parse_value(text: str) -> object:
    return yaml.safe_load(text)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--scenarios", nargs="+", default=["CUR", "STR", "MIX"])
    parser.add_argument("--set", nargs="*", default=[], help="CLAD init arguments, key=value")
    args = parser.parse_args()
    config = yaml.safe_load(args.config.read_text())
    settings = dict(config["model"]["init_args"])
    settings.update({k: parse_value(v) for k, v in (item.split("=", 1) for item in args.set)})
    dataset = config["data"]["init_args"]["dataset"]
    batch_size = config["data"]["init_args"]["batch_size"]
    epochs = settings["ae_epochs"] + settings["dec_epochs"] + settings["classifier_epochs"]
    columns = (
        "CLAD ODIN",
        "CLAD ODIN val",
        "CLAD max-softmax",
        "clustering NMI",
        "kNN",
        "OC-SVM",
    )  # means; T and eps per run
    results: dict[tuple[str, str], list[float]] = {}
    for normal in args.scenarios:
        for seed in args.seeds:
            dm = ScenarioDataModule(dataset, normal=normal, seed=seed, batch_size=batch_size)
            L.seed_everything(seed, verbose=False)
            model = CLAD(**settings)
            fitting = trainer(epochs, validate=True)
            fitting.fit(model, datamodule=dm)
            out = trainer().test(model, datamodule=dm, verbose=False)[0]
            knn = KNNDetector(k=5, epsilons=[0.1])
            knn.fit_bank(dm.train_features())
            row = {
                "CLAD ODIN": out["test/auroc"],
                "CLAD ODIN val": float(fitting.callback_metrics.get("val/odin_auroc", float("nan"))),
                "CLAD max-softmax": out["test/msp_auroc"],
                "clustering NMI": model.clustering_diagnostics["clustering/nmi"],
                "chosen T": model.odin.current()[0],
                "chosen eps": model.odin.current()[1],
                "kNN": trainer().test(knn, datamodule=dm, verbose=False)[0]["test/auroc"],
                "OC-SVM": oc_svm_auroc(dm),
            }
            for name, value in row.items():
                results.setdefault((normal, name), []).append(value)
            print(normal, seed, {k: round(v, 4) for k, v in row.items()}, flush=True)
    paper = PAPER.get(dataset, {})
    print(f"\n{dataset}: mean over seeds {args.seeds}; CLAD settings {args.set or 'from the config'}")
    print("| normal | " + " | ".join(columns) + " | paper CLAD |")
    print("|---" * (len(columns) + 2) + "|")
    for normal in args.scenarios:
        cells = [f"{statistics.mean(results[(normal, c)]):.3f}" for c in columns]
        print(f"| {normal} | " + " | ".join(cells) + f" | {paper.get(normal, '-')} |")


if __name__ == "__main__":
    main()
