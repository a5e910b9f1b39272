"""CompactVAE on digits or MNIST scenarios: AUROC of elbo / recon / hole for each latent, next to kNN, one-class
(10 digits) and CUR / STR / MIX, over seeds; certified AUROC of the Lipschitz hole score.

    python benchmarks/vae_scenarios.py [--seeds 0 1 2] [--epochs 30]
    # MNIST on a CPU budget (real data in ../shared/data; radii 8/255, 16/255, 36/255):
    LIGHTNING_OCC_DATA=../shared/data python benchmarks/vae_scenarios.py --dataset mnist --seeds 0 --epochs 5
"""

from __future__ import annotations

import argparse
import statistics

import lightning as L

from configs import model_from_config  # benchmarks/ is on sys.path when run as a script
from lightning_occ.data import ScenarioDataModule
from lightning_occ.models import KNNDetector
from lightning_occ.utils.trainers import quiet_trainer

RADII = [0.1, 0.25, 0.5]
MNIST_RADII = [8 / 255, 16 / 255, 36 / 255]
SCENARIOS: list[int | str] = [*range(10), "CUR", "STR", "MIX"]
LATENTS = ("gaussian", "sphere", "lipschitz")
SCORES = ("elbo", "recon", "hole")


def trainer(epochs: int = 1) -> L.Trainer:
    return quiet_trainer(max_epochs=epochs, accelerator="cpu", limit_val_batches=0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--dataset", default="digits", choices=["digits", "mnist"])
    args = parser.parse_args()
    radii = RADII if args.dataset == "digits" else MNIST_RADII
    results: dict[tuple[str, str], list[float]] = {}
    certified: dict[str, list[list[float]]] = {}
    for normal in SCENARIOS:
        group = "one-class" if isinstance(normal, int) else normal
        for seed in args.seeds:
            dm = ScenarioDataModule(
                args.dataset, normal=normal, seed=seed, batch_size=64 if args.dataset == "digits" else 128
            )
            for latent in LATENTS:
                L.seed_everything(seed, verbose=False)
                model = model_from_config("vae/digits_cur.yaml", latent=latent, epsilons=radii)
                trainer(args.epochs).fit(model, datamodule=dm)
                for score in SCORES:
                    model.score_name = score
                    out = trainer().test(model, datamodule=dm, verbose=False)[0]
                    results.setdefault((group, f"{latent}/{score}"), []).append(out["test/auroc"])
                    if latent == "lipschitz" and score == "hole":
                        certified.setdefault(group, []).append([out[f"test/certified_auroc@{r:g}"] for r in radii])
            knn = KNNDetector(k=5, epsilons=radii)
            knn.fit_bank(dm.train_features())
            results.setdefault((group, "kNN"), []).append(
                trainer().test(knn, datamodule=dm, verbose=False)[0]["test/auroc"]
            )
            print(normal, seed, "done", flush=True)
    columns = [f"{latent}/{score}" for latent in LATENTS for score in SCORES] + ["kNN"]
    print(
        f"\n{args.dataset}, {args.epochs} epochs: mean AUROC over seeds {args.seeds} "
        "(one-class = mean of the 10 digits)"
    )
    print("| normal | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for group in ("one-class", "CUR", "STR", "MIX"):
        print(f"| {group} | " + " | ".join(f"{statistics.mean(results[(group, c)]):.3f}" for c in columns) + " |")
    print("\nLipschitz latent, hole score, certified AUROC at " + ", ".join(f"{r:.4g}" for r in radii))
    for group, rows in certified.items():
        print(f"| {group} | " + " | ".join(f"{statistics.mean(c):.3f}" for c in zip(*rows)) + " |")


if __name__ == "__main__":
    main()
