"""The Trainer behind ``lightning-occ``: Lightning's Trainer plus a ``certify`` verb."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import lightning as L

from lightning_occ.callbacks import EvaluationRecorder, PretrainedWeights, ResumeRandomState
from lightning_occ.certify import PercentileSmoothing, SmoothedDetector
from lightning_occ.core.checkpoints import load_checkpoint, load_detector
from lightning_occ.core.detector import AnomalyDetector
from lightning_occ.core.evaluation import Evaluation
from lightning_occ.export import export_detector
from lightning_occ.export.files import DescribesPreprocessing

__all__ = ["OCCTrainer"]


class OCCTrainer(L.Trainer):
    """A Lightning Trainer with :meth:`certify`, used by the ``lightning-occ`` command line.

    Checkpoints given as ``ckpt_path`` are read without executing anything from them
    (``torch.load(weights_only=True)``); a file holding pickled objects is refused with a message
    naming the object.

    It adds :class:`~lightning_occ.callbacks.ResumeRandomState` (a resumed fit continues the random
    streams) and :class:`~lightning_occ.callbacks.PretrainedWeights` (``pretrained=`` initialises a
    fit) to the callbacks, unless they are there already.

    Args:
        unsafe_load: accept checkpoints holding pickled objects (this runs code from the file: only
            for files you trust). Command line: ``--trainer.unsafe_load true``.
        **kwargs: everything ``lightning.Trainer`` takes.
    """

    callbacks: list[L.Callback]

    def __init__(self, *args: Any, unsafe_load: bool = False, **kwargs: Any) -> None:
        given = kwargs.get("callbacks")
        callbacks = [given] if isinstance(given, L.Callback) else list(given or [])
        for kind in (ResumeRandomState, PretrainedWeights):
            if not any(isinstance(c, kind) for c in callbacks):
                callbacks.append(kind())
        kwargs["callbacks"] = callbacks
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

    def export(
        self,
        model: AnomalyDetector,
        datamodule: L.LightningDataModule | None = None,
        ckpt_path: str | None = None,
        format: Literal["onnx", "torchscript"] = "onnx",
        out_dir: str | None = None,
    ) -> tuple[Path, Path]:
        """Write the trained detector's score function as ONNX or TorchScript with a ``score.json`` sidecar.

        Args:
            model: the detector; its weights come from ``ckpt_path`` when given.
            datamodule: the data it was trained on: its preprocessing goes into the sidecar.
            ckpt_path: a checkpoint written by ``lightning-occ fit`` (or ``zoo:NAME``).
            format: ``onnx`` (run with onnxruntime) or ``torchscript`` (``torch.jit.load``).
            out_dir: the folder; default ``<default_root_dir>/export``.

        Returns:
            The model file and the sidecar.
        """
        detector = model
        if ckpt_path is not None:
            detector = load_detector(ckpt_path, default_class=type(model), unsafe_load=self.unsafe_load)
        preprocessing = datamodule.preprocessing() if isinstance(datamodule, DescribesPreprocessing) else None
        folder = Path(out_dir or Path(self.default_root_dir) / "export")
        written = export_detector(detector, folder, format, preprocessing)
        if self.is_global_zero:
            print(f"Exported {type(detector).__name__} to " + ", ".join(str(p.resolve()) for p in written))
        return written

    def certify(
        self,
        model: AnomalyDetector,
        datamodule: L.LightningDataModule | None = None,
        ckpt_path: str | None = None,
        certifier: PercentileSmoothing | None = None,
        epsilons: list[float] | None = None,
        decisions: bool = True,
    ) -> Evaluation:
        """Certify a trained detector by percentile smoothing on the test set; write per-sample certificates.

        Args:
            model: the detector; its weights come from ``ckpt_path`` when given.
            datamodule: the data the detector was trained for (same preprocessing).
            ckpt_path: a checkpoint written by ``lightning-occ fit``.
            certifier: smoothing settings (default: median, sigma 0.25, n 2000, alpha 0.001, all radii jointly).
            epsilons: radii to certify (default: the model's).
            decisions: first smooth the validation split too, so that a
                :class:`~lightning_occ.callbacks.Threshold` callback chooses the smoothed decisions'
                threshold there (the raw detector's threshold does not fit smoothed scores); the
                report then adds their certified accuracy. It doubles the smoothing work.

        Returns:
            The evaluation; the report callback writes ``certificates.csv`` next to the report
            (``--report.out_dir``).
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
        recorder = EvaluationRecorder()
        self.callbacks.append(recorder)
        try:
            if decisions:
                self.validate(smoothed, datamodule=datamodule, verbose=False)
            self.test(smoothed, datamodule=datamodule)
        finally:
            self.callbacks.remove(recorder)
        if "test" not in recorder.latest:
            raise RuntimeError("The test loop produced no evaluation; does the DataModule have a test set?")
        return recorder.latest["test"]
