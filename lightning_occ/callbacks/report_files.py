"""The files of a report: ``results.json``, the PNG plots, and per-sample certificates as CSV."""

from __future__ import annotations

import csv
import inspect
import json
import math
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor

from lightning_occ.core.detector import AnomalyDetector
from lightning_occ.core.evaluation import ATTACKED_CURVE, Evaluation
from lightning_occ.core.protocol import AnomalyDataModule
from lightning_occ.data.subsets import first_items
from lightning_occ.metrics.plots import plot_certified_curve, plot_roc_curve, plot_score_field, plot_score_histograms
from lightning_occ.utils.atomic import atomic_path

__all__ = ["DrawsReportFigures", "Generative", "describe_run", "radius_units", "write_certificates", "write_report"]


@runtime_checkable
class DrawsReportFigures(Protocol):
    """A detector that adds its own figures to the report (e.g. CompactVAE's latent scatter)."""

    def report_figures(self, datamodule: object) -> dict[str, Any]: ...


@runtime_checkable
class Generative(Protocol):
    """A detector that can draw samples from its model of normal data (OCSDF's boundary samples)."""

    def generate(self, n: int) -> Tensor: ...


def describe_run(model: object, datamodule: object) -> str:
    """``"OCSDF on digits (normal: CUR)"``: the model, the data and the scenario, for titles."""
    name = type(model).__name__ if model is not None else "detector"
    hparams = getattr(datamodule, "hparams", {}) or {}
    dataset, normal = hparams.get("dataset"), hparams.get("normal", hparams.get("normal_classes"))
    text = f"{name} on {dataset}" if dataset else name
    return f"{text} (normal: {normal})" if normal is not None else text


def radius_units(model: object) -> str:
    """How the radius is measured: pixels in [0, 1] for images, the DataModule's standardised units otherwise."""
    shape = getattr(model, "input_shape", None)
    return "[0, 1] pixels" if shape is not None and len(shape) == 3 else "standardised feature units"


def write_report(
    evaluation: Evaluation, out_dir: str | Path, model: AnomalyDetector | None = None, datamodule: object = None
) -> list[Path]:
    """Write ``results.json``, ``certified_auroc.png``, ``roc_curve.png``, ``score_histograms.png`` (plus
    ``score_field.png`` for 2-D data, ``boundary_samples.png`` for image models that can
    ``generate``, and whatever the model's ``report_figures(datamodule)`` draws) into ``out_dir``;
    returns the written paths. Without a certificate, ``certified_auroc`` is null at every radius > 0."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    certified = [
        value if eps == 0 or evaluation.certificate is not None else None  # no claim without a certificate
        for eps, value in zip(evaluation.epsilons, evaluation.certified.tolist())
    ]
    results = {
        "metrics": evaluation.metrics(),
        "epsilons": evaluation.epsilons,
        "certified_auroc": certified,
        "lipschitz_bound": evaluation.lipschitz_bound,
        "certificate": evaluation.certificate,
        "other_curves": {k: v.tolist() for k, v in evaluation.other_curves.items()},
        "n_samples": evaluation.target.numel(),
        "n_anomalies": int(evaluation.target.sum()),
        "max_score_rounding_error": evaluation.score_error,
        "input_gradient_norm": evaluation.gradient_norms,
        "threshold": evaluation.threshold,
        "threshold_rule": evaluation.threshold_rule,
        "decisions": evaluation.decisions,
        "certified_accuracy": None if evaluation.certified_accuracy is None else evaluation.certified_accuracy.tolist(),
    }
    attacked = evaluation.other_curves.get(ATTACKED_CURVE)
    if attacked is not None and evaluation.certificate is not None:  # how loose the certificate is
        results["attacked_minus_certified"] = {
            f"{eps:g}": float(a) - float(c)
            for eps, a, c in zip(evaluation.epsilons, attacked.tolist(), evaluation.certified.tolist())
            if eps > 0
        }
    path = out / "results.json"
    with atomic_path(path) as partial:
        partial.write_text(json.dumps(results, indent=2))
    written.append(path)
    title = describe_run(model, datamodule)
    figures = {
        "score_histograms.png": plot_score_histograms(
            evaluation.scores, evaluation.target, title=f"{title}: anomaly scores"
        )[0],
        "roc_curve.png": plot_roc_curve(evaluation.scores, evaluation.target, f"{title}: ROC (clean)")[0],
    }
    if evaluation.certificate is not None:
        units = radius_units(model)
        figure, axes = plot_certified_curve(
            evaluation.epsilons,
            evaluation.certified,
            label="certified AUROC (proven)",
            title=f"{title}: AUROC under l2 perturbations",
            radius_units=units,
        )
        for name, curve in evaluation.other_curves.items():
            plot_certified_curve(evaluation.epsilons, curve, ax=axes, label=name, radius_units=units)
        figures["certified_auroc.png"] = figure
    test_dataset = getattr(datamodule, "test_dataset", None)
    if model is not None and isinstance(datamodule, AnomalyDataModule) and test_dataset is not None:
        train = datamodule.train_features()
        if train.ndim == 2 and train.shape[1] == 2:
            test_x, test_y = first_items(test_dataset, len(test_dataset))
            device = model.device
            figures["score_field.png"] = plot_score_field(lambda g: model.score(g.to(device)), train, test_x, test_y)[0]
    if isinstance(model, DrawsReportFigures):
        figures.update(model.report_figures(datamodule))
    shape = getattr(model, "input_shape", None)
    if isinstance(model, Generative) and shape is not None and len(shape) == 3 and shape[0] in (1, 3):
        from torchvision.utils import save_image

        path = out / "boundary_samples.png"
        options = {"progress": True} if "progress" in inspect.signature(model.generate).parameters else {}
        samples = model.generate(64, **options).detach().cpu().clamp(0, 1)
        scale = max(1, -(-64 // samples.shape[-1]))  # each sample at least 64 px wide, pixels kept sharp
        save_image(
            torch.nn.functional.interpolate(samples, scale_factor=scale, mode="nearest"),
            path,
            nrow=8,
            padding=4,
            pad_value=1.0,
        )
        written.append(path)
    for name, figure in figures.items():
        figure.savefig(out / name, dpi=110)
        written.append(out / name)
    return written


def write_certificates(evaluation: Evaluation, path: str | Path) -> Path:
    """One CSV row per sample: label, smoothed score, and per radius the bounds and an abstain flag."""
    if evaluation.lower is None or evaluation.upper is None:
        raise ValueError("This evaluation has no per-sample bounds; it did not come from a smoothing certifier.")
    path = Path(path)
    radii = [f"{eps:g}" for eps in evaluation.epsilons]
    header = ["index", "target", "score"]
    for r in radii:
        header += [f"lower@{r}", f"upper@{r}", f"abstain@{r}"]
    with atomic_path(path) as partial, partial.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for i in range(evaluation.target.numel()):
            row: list[object] = [i, int(evaluation.target[i]), f"{float(evaluation.scores[i]):.9g}"]
            for k in range(len(radii)):
                low, high = float(evaluation.lower[i, k]), float(evaluation.upper[i, k])
                abstain = not (math.isfinite(low) and math.isfinite(high))
                row += [f"{low:.9g}", f"{high:.9g}", int(abstain)]
            writer.writerow(row)
    return path
