"""MNIST one-class (each digit normal in turn) on the real data, with a CPU budget: OCSDF with the
orthogonal-convolution network (configs/ocsdf/mnist_one_class.yaml), OCSDF with the MLP at the same
budget (configs/ocsdf/mnist_one_class_mlp.yaml) and kNN (k=5); clean and certified AUROC at 8/255,
16/255, 36/255, 72/255 (l2, [0, 1] pixels), input-gradient norms, and each detector's cost (parameters,
bytes, the kNN bank's bytes, training time, scoring throughput on the test split, batch 256, one process).

    LIGHTNING_OCC_DATA=../shared/data python benchmarks/mnist_one_class.py [--classes 0 1 ...]

Writes ``benchmarks/results/mnist_one_class.json``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import lightning as L
import torch
from timing import write_results  # benchmarks/ is on sys.path when run as a script

from lightning_occ.cli import build_cli
from lightning_occ.data import ScenarioDataModule
from lightning_occ.models import KNNDetector
from lightning_occ.utils.diagnostics import gradient_norm_summary
from lightning_occ.utils.trainers import quiet_trainer

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results" / "mnist_one_class.json"
CONFIGS = {
    "OCSDF orthoconv": ROOT / "configs/ocsdf/mnist_one_class.yaml",
    "OCSDF MLP": ROOT / "configs/ocsdf/mnist_one_class_mlp.yaml",
}
PAPER = {"clean": 95.5, "8/255": 93.2, "16/255": 89.9, "36/255": 78.4, "72/255": 57.5}


def trainer(epochs: int = 1) -> L.Trainer:
    return quiet_trainer(max_epochs=epochs, accelerator="cpu", limit_val_batches=0)


def throughput(detector, x: torch.Tensor, batch: int = 256) -> float:
    """Images per second of the detector's score on ``x`` (best of two passes)."""
    best = float("inf")
    with torch.no_grad():
        for _ in range(2):
            start = time.perf_counter()
            for chunk in x.split(batch):
                detector.score(chunk)
            best = min(best, time.perf_counter() - start)
    return len(x) / best


def evaluate(name: str, detector, datamodule, radii: list[float], fit_seconds: float) -> dict:
    result = trainer().test(detector, datamodule=datamodule, verbose=False)[0]
    x = datamodule.test_dataset.images.float() / 255
    tensors = [*detector.parameters(), *detector.buffers()]
    return {
        "auroc": [result["test/auroc"]] + [result[f"test/certified_auroc@{r:g}"] for r in radii],
        "gradient_norm": gradient_norm_summary(detector, x, limit=1000),
        "parameters": sum(p.numel() for p in detector.parameters() if p.requires_grad),
        "bytes": sum(t.numel() * t.element_size() for t in tensors),
        "fit_seconds": fit_seconds,
        "images_per_second": throughput(detector, x),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--classes", type=int, nargs="+", default=list(range(10)))
    args = parser.parse_args()
    rows: dict[str, list[dict]] = {name: [] for name in [*CONFIGS, "kNN (k=5)"]}
    radii: list[float] = []
    for digit in args.classes:
        datamodule = ScenarioDataModule("mnist", normal=digit)
        for name, config in CONFIGS.items():
            L.seed_everything(0, verbose=False)
            cli = build_cli(
                ["--config", str(config), "--data.init_args.normal", str(digit), "--trainer.logger", "false"], run=False
            )
            model, epochs = cli.model, cli.trainer.max_epochs
            radii = [e for e in model.epsilons if e > 0]
            start = time.perf_counter()
            trainer(epochs).fit(model, datamodule=datamodule)
            rows[name].append(evaluate(name, model.eval(), datamodule, radii, time.perf_counter() - start))
        knn = KNNDetector(k=5, epsilons=radii)
        start = time.perf_counter()
        knn.fit_bank(datamodule.train_features())
        rows["kNN (k=5)"].append(evaluate("kNN", knn, datamodule, radii, time.perf_counter() - start))
        print(
            f"digit {digit}: "
            + "; ".join(f"{n} " + " / ".join(f"{v:.3f}" for v in r[-1]["auroc"]) for n, r in rows.items()),
            flush=True,
        )
    summary = {
        name: {
            "mean_auroc": [statistics.mean(c) for c in zip(*(r["auroc"] for r in runs))],
            "median_gradient_norm": statistics.mean(r["gradient_norm"]["median"] for r in runs),
            "min_gradient_norm": min(r["gradient_norm"]["min"] for r in runs),
            "parameters": runs[0]["parameters"],
            "mean_bytes": statistics.mean(r["bytes"] for r in runs),
            "mean_fit_seconds": statistics.mean(r["fit_seconds"] for r in runs),
            "mean_images_per_second": statistics.mean(r["images_per_second"] for r in runs),
        }
        for name, runs in rows.items()
    }
    result = {
        "classes": args.classes,
        "radii": radii,
        "paper_ocsdf": PAPER,
        "threads": torch.get_num_threads(),
        "summary": summary,
        "per_digit": rows,
    }
    write_results(RESULTS, result)
    print(
        "\n| detector | clean | 8/255 | 16/255 | 36/255 | 72/255 | grad. norm median / min | params | bytes | "
        "fit s | images/s |\n|---|---|---|---|---|---|---|---|---|---|---|"
    )
    for name, s in summary.items():
        print(
            f"| {name} | "
            + " | ".join(f"{100 * v:.1f}" for v in s["mean_auroc"])
            + f" | {s['median_gradient_norm']:.3f} / {s['min_gradient_norm']:.3f} | {s['parameters']:,} | "
            f"{s['mean_bytes'] / 1e6:.2f} MB | {s['mean_fit_seconds']:.0f} | {s['mean_images_per_second']:,.0f} |"
        )
    print("| paper OCSDF (GPU, 70 epochs) | " + " | ".join(f"{v}" for v in PAPER.values()) + " | | | | | |")


if __name__ == "__main__":
    main()
