"""Fine-tuning from a zoo entry vs training from scratch, same short budget, through the CLI.

    python benchmarks/zoo_finetune.py [--entry ocsdf-digits-cur] [--config configs/ocsdf/digits_cur.yaml]
        [--normal STR] [--epochs 3] [--seeds 0 1 2]

Both runs are ``lightning-occ fit`` on the target scenario for ``--epochs`` epochs, one of them with
``--model.init_args.pretrained zoo:ENTRY``; then ``lightning-occ test``. Prints the clean and
certified AUROC of both, per seed and on average.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from lightning_occ.cli import build_cli

ROOT = Path(__file__).resolve().parents[1]


def run(config: str, normal: str, epochs: int, seed: int, pretrained: str | None, folder: Path) -> dict[str, float]:
    common = [
        "--config",
        config,
        "--data.init_args.normal",
        normal,
        "--seed_everything",
        str(seed),
        "--trainer.logger",
        "false",
        "--trainer.enable_progress_bar",
        "false",
        "--trainer.enable_model_summary",
        "false",
        "--trainer.default_root_dir",
        str(folder),
        "--trainer.callbacks.dirpath",
        str(folder / "checkpoints"),
        "--report.out_dir",
        str(folder / "report"),
    ]
    extra = ["--model.init_args.pretrained", pretrained] if pretrained else []
    build_cli(
        ["fit", *common, *extra, "--trainer.max_epochs", str(epochs), "--trainer.check_val_every_n_epoch", str(epochs)]
    )
    build_cli(["test", *common, "--ckpt_path", str(folder / "checkpoints" / "last.ckpt")])
    return json.loads((folder / "report" / "results.json").read_text())["metrics"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entry", default="ocsdf-digits-cur")
    parser.add_argument("--config", default=str(ROOT / "configs/ocsdf/digits_cur.yaml"))
    parser.add_argument("--normal", default="STR")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    rows: dict[str, list[dict[str, float]]] = {"scratch": [], "zoo": []}
    for seed in args.seeds:
        for label, pretrained in (("scratch", None), ("zoo", f"zoo:{args.entry}")):
            with tempfile.TemporaryDirectory() as folder:
                metrics = run(args.config, args.normal, args.epochs, seed, pretrained, Path(folder))
            rows[label].append(metrics)
            print(seed, label, {k: round(v, 4) for k, v in metrics.items()}, flush=True)
    keys = list(rows["scratch"][0])
    print(f"\n{args.normal}, {args.epochs} epochs, seeds {args.seeds}: mean of " + ", ".join(keys))
    for label, runs in rows.items():
        start = "from scratch" if label == "scratch" else f"from zoo:{args.entry}"
        print(f"| {start} | " + " | ".join(f"{statistics.mean(r[k] for r in runs):.3f}" for k in keys) + " |")


if __name__ == "__main__":
    main()
