"""End-of-test report: a table a person can read, a JSON file, and PNG plots."""

from __future__ import annotations

import inspect
import json
import os
import tempfile
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_only

from lightning_occ.data.subsets import first_items
from lightning_occ.detector import ATTACKED_CURVE, AnomalyDetector, Evaluation
from lightning_occ.diagnostics import gradient_norm_summary
from lightning_occ.errors import UserError
from lightning_occ.metrics.plots import plot_certified_curve, plot_roc_curve, plot_score_field, plot_score_histograms

__all__ = ["CertifiedReport", "format_table", "log_report", "write_report"]


def format_table(evaluation: Evaluation, title: str = "") -> str:
    """AUROC and certified AUROC per radius as a plain-text table."""
    n_anomalies = int(evaluation.target.sum())
    n_normal = evaluation.target.numel() - n_anomalies
    certified = evaluation.certificate is not None
    lines = [title] if title else []
    lines.append(f"{evaluation.stage} set: {n_normal} normal, {n_anomalies} anomalous samples")
    lines.append(f"Certificate: {evaluation.certificate}" if certified else "Certificate: none")
    curves = {"certified AUROC": evaluation.certified, **evaluation.other_curves}
    header = "  radius eps | " + " | ".join(f"{name:>15}" for name in curves)
    lines += ["", header, "  " + "-" * (len(header) - 2)]
    for k, eps in enumerate(evaluation.epsilons):
        if eps == 0 or certified:
            label = "0 (clean)" if eps == 0 else f"{eps:g}"
            lines.append(f"  {label:>10} | " + " | ".join(f"{float(c[k]):>15.4f}" for c in curves.values()))
    if not certified:
        lines.append("  (no certificate: wrap the detector in lightning_occ.certify.SmoothedDetector for radii > 0)")
    norms = evaluation.gradient_norms
    if norms is not None:
        lines.append(f"\n  input-gradient norm on test data: median {norms['median']:.3f}, min {norms['min']:.3f}, "
                     f"max {norms['max']:.3f} (Lipschitz bound {norms['lipschitz_bound']:.6f}; the certificate is "
                     "tight where the norm is near the bound)")
    return "\n".join(lines)


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


def write_report(evaluation: Evaluation, out_dir: str | Path, model: AnomalyDetector | None = None, datamodule: object = None) -> list[Path]:
    """Write ``results.json``, ``certified_auroc.png``, ``roc_curve.png``, ``score_histograms.png`` (plus
    ``score_field.png`` for 2-D data, ``boundary_samples.png`` for image models that can
    ``generate``, and whatever the model's ``report_figures(datamodule)`` draws) into ``out_dir``;
    returns the written paths. Without a certificate, ``certified_auroc`` is null at every radius > 0."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    certified = [value if eps == 0 or evaluation.certificate is not None else None  # no claim without a certificate
                 for eps, value in zip(evaluation.epsilons, evaluation.certified.tolist())]
    results = {"metrics": evaluation.metrics(), "epsilons": evaluation.epsilons,
               "certified_auroc": certified, "lipschitz_bound": evaluation.lipschitz_bound,
               "certificate": evaluation.certificate,
               "other_curves": {k: v.tolist() for k, v in evaluation.other_curves.items()},
               "n_samples": evaluation.target.numel(), "n_anomalies": int(evaluation.target.sum()),
               "max_score_rounding_error": evaluation.score_error, "input_gradient_norm": evaluation.gradient_norms}
    attacked = evaluation.other_curves.get(ATTACKED_CURVE)
    if attacked is not None and evaluation.certificate is not None:  # how loose the certificate is
        results["attacked_minus_certified"] = {f"{eps:g}": float(a) - float(c) for eps, a, c in zip(
            evaluation.epsilons, attacked.tolist(), evaluation.certified.tolist()) if eps > 0}
    path = out / "results.json"
    path.write_text(json.dumps(results, indent=2))
    written.append(path)
    title = describe_run(model, datamodule)
    figures = {"score_histograms.png": plot_score_histograms(evaluation.scores, evaluation.target,
                                                             title=f"{title}: anomaly scores")[0],
               "roc_curve.png": plot_roc_curve(evaluation.scores, evaluation.target, f"{title}: ROC (clean)")[0]}
    if evaluation.certificate is not None:
        units = radius_units(model)
        figure, axes = plot_certified_curve(evaluation.epsilons, evaluation.certified, label="certified AUROC (proven)",
                                            title=f"{title}: AUROC under l2 perturbations", radius_units=units)
        for name, curve in evaluation.other_curves.items():
            plot_certified_curve(evaluation.epsilons, curve, ax=axes, label=name, radius_units=units)
        figures["certified_auroc.png"] = figure
    train_features = getattr(datamodule, "train_features", None)
    test_dataset = getattr(datamodule, "test_dataset", None)
    if model is not None and train_features is not None and test_dataset is not None:
        train = train_features()
        if train.ndim == 2 and train.shape[1] == 2:
            test_x, test_y = test_dataset.tensors[:2]
            device = model.device
            figures["score_field.png"] = plot_score_field(lambda g: model.score(g.to(device)), train, test_x, test_y)[0]
    model_figures = getattr(model, "report_figures", None)
    if callable(model_figures):
        figures.update(model_figures(datamodule))
    generate = getattr(model, "generate", None)
    shape = getattr(model, "input_shape", None)
    if callable(generate) and shape is not None and len(shape) == 3 and shape[0] in (1, 3):
        from torchvision.utils import save_image

        path = out / "boundary_samples.png"
        options = {"progress": True} if "progress" in inspect.signature(generate).parameters else {}
        samples = generate(64, **options).detach().cpu().clamp(0, 1)
        scale = max(1, -(-64 // samples.shape[-1]))  # each sample at least 64 px wide, pixels kept sharp
        save_image(torch.nn.functional.interpolate(samples, scale_factor=scale, mode="nearest"), path, nrow=8,
                   padding=4, pad_value=1.0)
        written.append(path)
    for name, figure in figures.items():
        figure.savefig(out / name, dpi=110)
        written.append(out / name)
    return written


def log_report(loggers: list[object], evaluation: Evaluation, images: list[Path]) -> None:
    """Send the certified-AUROC curve and the report images to every logger that can take them.

    Loggers with ``log_table`` (W&B) get the curve as a table; loggers with ``log_image`` (W&B)
    get the PNGs; a TensorBoard ``SummaryWriter`` gets them through ``add_image``. CSV loggers keep
    the scalar metrics only (the files are in the report folder).
    """
    columns = ["eps", "certified_auroc", *evaluation.other_curves]
    curves = [evaluation.certified, *evaluation.other_curves.values()]
    rows = [[eps, *(float(c[k]) for c in curves)] for k, eps in enumerate(evaluation.epsilons)]
    stage = evaluation.stage
    for logger in loggers:
        if hasattr(logger, "log_table"):
            logger.log_table(key=f"{stage}/certified_auroc_curve", columns=columns, data=rows)
        if hasattr(logger, "log_image"):
            for path in images:
                logger.log_image(key=f"{stage}/{path.stem}", images=[str(path)])
        elif hasattr(getattr(logger, "experiment", None), "add_image"):
            import numpy as np
            from PIL import Image

            for path in images:
                array = np.asarray(Image.open(path).convert("RGB"))
                logger.experiment.add_image(f"{stage}/{path.stem}", array, dataformats="HWC")


class CertifiedReport(L.Callback):
    """After ``trainer.test``: print the certified-AUROC table and write the report files.

    Args:
        out_dir: folder for the files; default ``<trainer.log_dir>/report``.
        enabled: set False to skip the report.
    """

    def __init__(self, out_dir: str | None = None, enabled: bool = True) -> None:
        self.out_dir = out_dir
        self.enabled = enabled

    def _folder(self, trainer: L.Trainer) -> str:
        return self.out_dir or os.path.join(trainer.log_dir or trainer.default_root_dir, "report")

    @rank_zero_only
    def on_test_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Fail before the test loop, not after it, when the report cannot be written."""
        if not self.enabled:
            return
        folder = Path(self._folder(trainer))
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=folder):
                pass
        except OSError as error:
            raise UserError(f"Cannot write the report to {folder} ({error.strerror or error}): pass --report.out_dir "
                            "a folder you can write to.") from None

    @rank_zero_only
    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        evaluation = getattr(pl_module, "last_evaluation", None)
        if not self.enabled or evaluation is None:
            return
        out_dir = self._folder(trainer)
        test = getattr(trainer.datamodule, "test_dataset", None)
        if isinstance(pl_module, AnomalyDetector) and evaluation.lipschitz_bound is not None and test is not None:
            evaluation.gradient_norms = gradient_norm_summary(pl_module, first_items(test, 2000)[0])
        with torch.no_grad():
            written = write_report(evaluation, out_dir, pl_module, trainer.datamodule)
        name = type(pl_module).__name__
        data = getattr(getattr(trainer.datamodule, "hparams", {}), "get", lambda *_: None)("dataset")
        print("\n" + format_table(evaluation, f"lightning-occ: {name}" + (f" on {data}" if data else "")))
        print(f"\nReport written to {Path(out_dir).resolve()}: " + ", ".join(p.name for p in written) + "\n")
        log_report(trainer.loggers, evaluation, [p for p in written if p.suffix == ".png"])
