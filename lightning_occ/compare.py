"""``lightning-occ compare``: several detectors, one data split, one table (Markdown, JSON) and one plot.

    lightning-occ compare --data configs/knn/digits_cur.yaml \\
        --models configs/ocsdf/digits_cur.yaml configs/knn/digits_cur.yaml configs/pyod/lof_digits_cur.yaml \\
        --out results/compare

Each model config is fitted with the data section of ``--data`` (the same split for all), its
threshold is set on the validation split, and it is tested. Detectors with a Lipschitz bound get
their certified AUROC and certified accuracy from it; the others are certified by percentile
smoothing (``--sigma``, ``--n``, ``--alpha``), as ``lightning-occ certify`` does.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import torch
import yaml

if TYPE_CHECKING:
    from lightning_occ.trainer import OCCTrainer

__all__ = ["compare", "main"]

QUIET = [
    "--trainer.enable_progress_bar",
    "false",
    "--trainer.enable_model_summary",
    "false",
    "--trainer.logger",
    "false",
    "--trainer.callbacks=[]",
    "--trainer.enable_checkpointing",
    "false",
]


def _model_bytes(model: torch.nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in model.state_dict().values() if isinstance(t, torch.Tensor))


def _throughput(model: Any, x: torch.Tensor) -> float:
    """Inputs scored per second (the best of two passes over ``x``)."""
    best = float("inf")
    with torch.no_grad():
        for _ in range(2):
            start = time.perf_counter()
            for chunk in x.split(256):
                model.score(chunk.to(model.device))
            best = min(best, time.perf_counter() - start)
    return len(x) / max(best, 1e-9)


def _test_inputs(datamodule: Any, limit: int = 2000) -> torch.Tensor:
    from lightning_occ.data.subsets import first_items

    datamodule.setup("test")
    return first_items(datamodule.test_dataset, limit)[0]


def evaluate_model(
    model_config: str,
    data_section: Path,
    epsilons: list[float],
    out: Path,
    max_epochs: int | None,
    smoothing: dict[str, float],
) -> dict[str, Any]:
    """Fit, choose the threshold on validation, test (and smooth when there is no bound): one row."""
    from lightning_occ.callbacks import EvaluationRecorder
    from lightning_occ.certify import PercentileSmoothing
    from lightning_occ.cli import build_cli

    name = (
        Path(model_config).stem
        if Path(model_config).parent.name in ("", ".")
        else f"{Path(model_config).parent.name}/{Path(model_config).stem}"
    )
    folder = out / name.replace("/", "_")
    extra = ["--trainer.max_epochs", str(max_epochs)] if max_epochs is not None else []
    arguments = [
        "--config",
        model_config,
        "--data",
        str(data_section),
        *QUIET,
        *extra,
        "--trainer.default_root_dir",
        str(folder),
        "--model.init_args.epsilons",
        json.dumps(epsilons),
        "--report.enabled",
        "false",
    ]
    original, sys.argv = sys.argv, sys.argv[:1]  # LightningCLI warns when it sees both args and sys.argv
    try:
        cli = build_cli(arguments, run=False)
    finally:
        sys.argv = original
    model, datamodule, trainer = cli.model, cli.datamodule, cast("OCCTrainer", cli.trainer)
    start = time.perf_counter()
    trainer.fit(model, datamodule=datamodule)
    fit_seconds = time.perf_counter() - start
    recorder = EvaluationRecorder()
    trainer.callbacks.append(recorder)
    trainer.validate(model, datamodule=datamodule, verbose=False)  # the threshold, from the final weights
    trainer.test(model, datamodule=datamodule, verbose=False)
    evaluation = recorder.latest["test"]
    row: dict[str, Any] = {
        "model": f"{type(model).__name__} ({name})",
        "config": model_config,
        "auroc": evaluation.auroc,
        "certificate": "Lipschitz" if evaluation.is_certified else None,
        "certified_auroc": evaluation.certified.tolist() if evaluation.is_certified else None,
        "certified_accuracy": None if evaluation.certified_accuracy is None else evaluation.certified_accuracy.tolist(),
        "threshold": evaluation.threshold,
        "decisions": evaluation.decisions,
        "fit_seconds": fit_seconds,
        "inputs_per_second": _throughput(model, _test_inputs(datamodule)),
        "model_bytes": _model_bytes(model),
    }
    if not evaluation.is_certified:
        settings = PercentileSmoothing(sigma=smoothing["sigma"], n=int(smoothing["n"]), alpha=smoothing["alpha"])
        trainer.callbacks.remove(recorder)
        smoothed = trainer.certify(
            model, datamodule=datamodule, certifier=settings, epsilons=[e for e in epsilons if e > 0]
        )
        row["certificate"] = smoothed.certificate
        row["certified_auroc"] = smoothed.certified.tolist()
        row["smoothed_auroc"] = smoothed.auroc
        if smoothed.certified_accuracy is not None:  # the smoothed decisions, certified by the bounds
            row["certified_accuracy"] = smoothed.certified_accuracy.tolist()
    return row


def _markdown(rows: list[dict[str, Any]], epsilons: list[float]) -> str:
    radii = [e for e in epsilons if e > 0]
    header = (
        ["detector", "AUROC"]
        + [f"cert. AUROC @{e:g}" for e in radii]
        + [f"cert. acc. @{e:g}" for e in radii]
        + ["certificate", "fit s", "inputs/s", "MB"]
    )
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        auroc = row["certified_auroc"] or [None] * len(epsilons)
        accuracy = row["certified_accuracy"] or [None] * len(epsilons)
        cells = [row["model"], f"{row['auroc']:.3f}"]
        cells += ["-" if v is None else f"{v:.3f}" for v in auroc[1:]]
        cells += ["-" if v is None else f"{v:.3f}" for v in accuracy[1:]]
        kind = "smoothing" if row["certificate"] and "smoothing" in row["certificate"] else row["certificate"] or "-"
        cells += [
            kind,
            f"{row['fit_seconds']:.1f}",
            f"{row['inputs_per_second']:.0f}",
            f"{row['model_bytes'] / 1e6:.2f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _plot(rows: list[dict[str, Any]], epsilons: list[float], path: Path, title: str) -> None:
    from lightning_occ.metrics.plots import plot_certified_curve

    axes = None
    for row in rows:
        if row["certified_auroc"] is None:
            continue
        kind = "smoothing" if "smoothing" in (row["certificate"] or "") else "Lipschitz"
        figure, axes = plot_certified_curve(
            epsilons, row["certified_auroc"], ax=axes, label=f"{row['model']} [{kind}]", title=title
        )
    if axes is not None:
        axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
        figure.savefig(path, dpi=110, bbox_inches="tight")


def compare(
    data: str,
    models: list[str],
    out: str | Path = "results/compare",
    epsilons: list[float] | None = None,
    max_epochs: int | None = None,
    sigma: float = 0.5,
    n: int = 1000,
    alpha: float = 0.01,
) -> list[dict[str, Any]]:
    """Run the comparison; writes ``comparison.md``, ``comparison.json`` and ``certified_auroc.png`` into ``out``."""
    from lightning_occ.errors import UserError
    from lightning_occ.utils.atomic import atomic_path

    radii = sorted({0.0, *(float(e) for e in (epsilons or [0.1, 0.25, 0.5]))})
    config = yaml.safe_load(Path(data).read_text()) if Path(data).is_file() else None
    if not isinstance(config, dict) or "data" not in config:
        raise UserError(
            f"--data {data!r} must be a YAML config with a `data:` section (e.g. configs/knn/digits_cur.yaml)."
        )
    for model_config in models:
        if not Path(model_config).is_file():
            raise UserError(f"--models: no config file {model_config!r}.")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        data_section = Path(scratch) / "data.yaml"
        data_section.write_text(yaml.safe_dump(config["data"]))
        for model_config in models:
            rows.append(
                evaluate_model(
                    model_config, data_section, radii, folder, max_epochs, {"sigma": sigma, "n": n, "alpha": alpha}
                )
            )
            print(f"compare: {rows[-1]['model']}: AUROC {rows[-1]['auroc']:.4f}", flush=True)
    init = config["data"].get("init_args", {})
    title = f"{init.get('dataset', Path(data).stem)} (normal: {init.get('normal', init.get('normal_classes', '-'))})"
    table = _markdown(rows, radii)
    with atomic_path(folder / "comparison.md") as partial:
        partial.write_text(f"# Certified comparison on {title}\n\n{table}")
    with atomic_path(folder / "comparison.json") as partial:
        partial.write_text(
            json.dumps(
                {"data": data, "epsilons": radii, "smoothing": {"sigma": sigma, "n": n, "alpha": alpha}, "rows": rows},
                indent=2,
            )
        )
    _plot(rows, radii, folder / "certified_auroc.png", f"Certified AUROC on {title}")
    print("\n" + table + f"\nWritten to {folder.resolve()}: comparison.md, comparison.json, certified_auroc.png")
    return rows


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="lightning-occ compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="a config whose data section every model uses")
    parser.add_argument("--models", nargs="+", required=True, help="model configs (configs/<method>/<data>.yaml)")
    parser.add_argument("--out", default="results/compare")
    parser.add_argument("--epsilons", type=float, nargs="+", default=[0.1, 0.25, 0.5])
    parser.add_argument("--max_epochs", type=int, default=None, help="cap every model's training epochs")
    parser.add_argument("--sigma", type=float, default=0.5, help="smoothing noise for detectors without a bound")
    parser.add_argument("--n", type=int, default=1000, help="smoothing samples per input")
    parser.add_argument("--alpha", type=float, default=0.01, help="smoothing failure probability per input")
    args = parser.parse_args(argv)
    compare(args.data, args.models, args.out, args.epsilons, args.max_epochs, args.sigma, args.n, args.alpha)
