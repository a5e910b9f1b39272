"""sklearn digits (8x8, pixels in [0, 1]): OCSDF against kNN (k=5), one-class for each digit and the
latent multi-class scenarios CUR / STR / MIX, over seeds; clean and certified AUROC.

    python benchmarks/digits_scenarios.py [--seeds 0 1 2] [--epochs 30]
"""

from __future__ import annotations

import argparse
import statistics

import lightning as L

from configs import model_from_config  # benchmarks/ is on sys.path when run as a script
from lightning_occ.data import ScenarioDataModule
from lightning_occ.models import OCSDF, KNNDetector
from lightning_occ.utils.trainers import quiet_trainer

RADII = [0.1, 0.25, 0.5]
SCENARIOS: list[int | str] = [*range(10), "CUR", "STR", "MIX"]


def trainer(epochs: int = 1) -> L.Trainer:
    return quiet_trainer(max_epochs=epochs, accelerator="cpu", limit_val_batches=0)


def ocsdf(epochs: int) -> OCSDF:
    """configs/ocsdf/digits_one_class.yaml, its warm-up scaled to ``epochs``."""
    return model_from_config("ocsdf/digits_one_class.yaml", warmup_epochs=max(1, epochs // 7), epsilons=RADII)


def row(result: dict[str, float]) -> list[float]:
    return [result["test/auroc"]] + [result[f"test/certified_auroc@{r:g}"] for r in RADII]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    results: dict[tuple[str, str], list[list[float]]] = {}
    for normal in SCENARIOS:
        for seed in args.seeds:
            L.seed_everything(seed, verbose=False)
            dm = ScenarioDataModule("digits", normal=normal, seed=seed, batch_size=64)
            model = ocsdf(args.epochs)
            trainer(args.epochs).fit(model, datamodule=dm)
            results.setdefault((str(normal), "OCSDF"), []).append(
                row(trainer().test(model, datamodule=dm, verbose=False)[0])
            )
            knn = KNNDetector(k=5, epsilons=RADII)
            knn.fit_bank(dm.train_features().flatten(1))
            results.setdefault((str(normal), "kNN"), []).append(
                row(trainer().test(knn, datamodule=dm, verbose=False)[0])
            )
            print(
                normal, seed, {k[1]: round(v[-1][0], 4) for k, v in results.items() if k[0] == str(normal)}, flush=True
            )
    header = "| normal | method | AUROC | " + " | ".join(f"cert. @{r:g}" for r in RADII) + " |"
    print(f"\nmean over seeds {args.seeds}\n{header}\n|---|---|---|---|---|---|")
    for (normal, method), rows in results.items():
        print(f"| {normal} | {method} | " + " | ".join(f"{statistics.mean(c):.3f}" for c in zip(*rows)) + " |")
    for method in ("OCSDF", "kNN"):
        one_class = [
            statistics.mean(c)
            for c in zip(*[r for (n, m), rs in results.items() if m == method and n.isdigit() for r in rs])
        ]
        print(f"| one-class mean (10 digits) | {method} | " + " | ".join(f"{v:.3f}" for v in one_class) + " |")


if __name__ == "__main__":
    main()
