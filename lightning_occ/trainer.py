"""The Trainer behind ``lightning-occ``: Lightning's Trainer plus a ``certify`` verb."""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path
from typing import Any

import lightning as L

from lightning_occ.atomic import atomic_path
from lightning_occ.certify import PercentileSmoothing, SmoothedDetector
from lightning_occ.checkpoints import load_checkpoint, load_detector
from lightning_occ.detector import AnomalyDetector, Evaluation
from lightning_occ.report import CertifiedReport

__all__ = ["OCCTrainer", "write_certificates"]


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


class OCCTrainer(L.Trainer):
    """A Lightning Trainer with :meth:`certify`, used by the ``lightning-occ`` command line.

    Checkpoints given as ``ckpt_path`` are read without executing anything from them
    (``torch.load(weights_only=True)``); a file holding pickled objects is refused with a message
    naming the object.

    Args:
        unsafe_load: accept checkpoints holding pickled objects (this runs code from the file: only
            for files you trust). Command line: ``--trainer.unsafe_load true``.
        **kwargs: everything ``lightning.Trainer`` takes.
    """

    def __init__(self, *args: Any, unsafe_load: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.unsafe_load = unsafe_load

    def _run(self, model: L.LightningModule, ckpt_path: Any = None, weights_only: bool | None = None) -> Any:
        """Every verb (fit, validate, test, predict) passes here with ``ckpt_path`` already resolved
        (``last``, ``best`` included): read it safely first, then let Lightning load it the same way."""
        if ckpt_path is not None and Path(ckpt_path).is_file():
            load_checkpoint(ckpt_path, unsafe_load=self.unsafe_load)  # refuses unsafe or unreadable files
        if weights_only is None:
            weights_only = not self.unsafe_load
        return super()._run(model, ckpt_path=ckpt_path, weights_only=weights_only)

    def certify(
        self,
        model: AnomalyDetector,
        datamodule: L.LightningDataModule | None = None,
        ckpt_path: str | None = None,
        certifier: PercentileSmoothing | None = None,
        epsilons: list[float] | None = None,
    ) -> Evaluation:
        """Certify a trained detector by percentile smoothing on the test set; write per-sample certificates.

        Args:
            model: the detector; its weights come from ``ckpt_path`` when given.
            datamodule: the data the detector was trained for (same preprocessing).
            ckpt_path: a checkpoint written by ``lightning-occ fit``.
            certifier: smoothing settings (default: median, sigma 0.25, n 2000, alpha 0.001, all radii jointly).
            epsilons: radii to certify (default: the model's).

        Returns:
            The evaluation; ``certificates.csv`` is written next to the report (``--report.out_dir``).
        """
        detector = model
        if ckpt_path is not None:
            detector = load_detector(ckpt_path, default_class=type(model), unsafe_load=self.unsafe_load)
            if not isinstance(detector, type(model)):
                raise ValueError(
                    f"{ckpt_path} holds a {type(detector).__name__}, but the configured model is a "
                    f"{type(model).__name__}: pass the config the checkpoint was trained with."
                )
        radii = epsilons if epsilons is not None else [e for e in detector.epsilons if e > 0]
        settings = certifier or PercentileSmoothing()
        if self.progress_bar_callback is not None:
            settings.progress = True  # a bar over the noisy forward passes, not only one per batch
        smoothed = SmoothedDetector(detector, certifier=settings, epsilons=radii)
        self.test(smoothed, datamodule=datamodule)
        evaluation = smoothed.last_evaluation
        if evaluation is None:
            raise RuntimeError("The test loop produced no evaluation; does the DataModule have a test set?")
        if self.is_global_zero:
            report = next((c for c in self.callbacks if isinstance(c, CertifiedReport)), None)
            folder = (report.out_dir if report and report.out_dir else None) or os.path.join(
                self.log_dir or self.default_root_dir, "report")
            written = write_certificates(evaluation, Path(folder) / "certificates.csv")
            print(f"Per-sample certificates: {written.resolve()}")
        return evaluation
