"""End-of-test report: a table a person can read, a JSON file, PNG plots, and the loggers' copies."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_only

from lightning_occ.callbacks.report_files import write_certificates, write_report
from lightning_occ.core.detector import AnomalyDetector
from lightning_occ.core.evaluation import Evaluation
from lightning_occ.data.subsets import first_items
from lightning_occ.errors import UserError
from lightning_occ.utils.diagnostics import gradient_norm_summary

__all__ = ["CertifiedReport", "format_table", "log_report"]


def format_table(evaluation: Evaluation, title: str = "") -> str:
    """AUROC and certified AUROC per radius as a plain-text table."""
    n_anomalies = int(evaluation.target.sum())
    n_normal = evaluation.target.numel() - n_anomalies
    certified = evaluation.certificate is not None
    lines = [title] if title else []
    lines.append(f"{evaluation.stage} set: {n_normal} normal, {n_anomalies} anomalous samples")
    lines.append(f"Certificate: {evaluation.certificate}" if certified else "Certificate: none")
    if evaluation.threshold is not None and evaluation.decisions is not None:
        d = evaluation.decisions
        lines.append(
            f"Decision threshold {evaluation.threshold:.6g} ({evaluation.threshold_rule or 'set by hand'}): "
            f"precision {d['precision']:.4f}, recall {d['recall']:.4f}, F1 {d['f1']:.4f}, FPR {d['fpr']:.4f}"
        )
    else:
        lines.append("Decision threshold: none (fit with a validation split, or set one with set_threshold)")
    curves = {"certified AUROC": evaluation.certified, **evaluation.other_curves}
    if evaluation.certified_accuracy is not None:
        curves["certified accuracy"] = evaluation.certified_accuracy
    widths = [max(15, len(name)) for name in curves]
    header = "  radius eps | " + " | ".join(f"{name:>{w}}" for name, w in zip(curves, widths))
    lines += ["", header, "  " + "-" * (len(header) - 2)]
    for k, eps in enumerate(evaluation.epsilons):
        if eps == 0 or certified:
            label = "0 (clean)" if eps == 0 else f"{eps:g}"
            values = [f"{float(c[k]):>{w}.4f}" for c, w in zip(curves.values(), widths)]
            lines.append(f"  {label:>10} | " + " | ".join(values))
    if not certified:
        lines.append("  (no certificate: wrap the detector in lightning_occ.certify.SmoothedDetector for radii > 0)")
    norms = evaluation.gradient_norms
    if norms is not None:
        lines.append(
            f"\n  input-gradient norm on test data: median {norms['median']:.3f}, min {norms['min']:.3f}, "
            f"max {norms['max']:.3f} (Lipschitz bound {norms['lipschitz_bound']:.6f}; the certificate is "
            "tight where the norm is near the bound)"
        )
    return "\n".join(lines)


def log_report(loggers: Sequence[object], evaluation: Evaluation, images: list[Path]) -> None:
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
                cast(Any, logger).experiment.add_image(f"{stage}/{path.stem}", array, dataformats="HWC")


class CertifiedReport(L.Callback):
    """After ``trainer.test``: print the certified-AUROC table and write the report files.

    Args:
        out_dir: folder for the files; default ``<trainer.log_dir>/report``.
        enabled: set False to skip the report.
    """

    def __init__(self, out_dir: str | None = None, enabled: bool = True) -> None:
        self.out_dir = out_dir
        self.enabled = enabled
        self._evaluation: Evaluation | None = None

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
            raise UserError(
                f"Cannot write the report to {folder} ({error.strerror or error}): pass --report.out_dir "
                "a folder you can write to."
            ) from None

    def on_test_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._evaluation = None

    def on_evaluation(self, trainer: L.Trainer, detector: L.LightningModule, evaluation: Evaluation) -> None:
        """Receive the test evaluation (other listeners may still add curves; the files follow at test end)."""
        if evaluation.stage == "test":
            self._evaluation = evaluation

    @rank_zero_only
    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        evaluation = getattr(self, "_evaluation", None)
        if not self.enabled or evaluation is None:
            return
        self._evaluation = None
        out_dir = Path(self._folder(trainer))
        datamodule = getattr(trainer, "datamodule", None)
        test = getattr(datamodule, "test_dataset", None)
        if isinstance(pl_module, AnomalyDetector) and evaluation.lipschitz_bound is not None and test is not None:
            evaluation.gradient_norms = gradient_norm_summary(pl_module, first_items(test, 2000)[0])
        with torch.no_grad():
            detector = pl_module if isinstance(pl_module, AnomalyDetector) else None
            written = write_report(evaluation, out_dir, detector, datamodule)
        if evaluation.lower is not None:
            written.append(write_certificates(evaluation, out_dir / "certificates.csv"))
        name = type(pl_module).__name__
        data = getattr(getattr(datamodule, "hparams", {}), "get", lambda *_: None)("dataset")
        print("\n" + format_table(evaluation, f"lightning-occ: {name}" + (f" on {data}" if data else "")))
        print(f"\nReport written to {out_dir.resolve()}: " + ", ".join(p.name for p in written) + "\n")
        log_report(list(trainer.loggers), evaluation, [p for p in written if p.suffix == ".png"])
