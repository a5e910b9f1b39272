"""EvaluationRecorder: keep the evaluations a detector produces, for use from Python."""

from __future__ import annotations

import lightning as L

from lightning_occ.core.evaluation import Evaluation

__all__ = ["EvaluationRecorder"]


class EvaluationRecorder(L.Callback):
    """Keeps the latest :class:`~lightning_occ.core.evaluation.Evaluation` of each stage.

    Example:
        >>> import lightning as L
        >>> recorder = EvaluationRecorder()
        >>> trainer = L.Trainer(callbacks=[recorder], logger=False)  # doctest: +SKIP
        >>> trainer.test(detector, datamodule=data); recorder.latest["test"].certified  # doctest: +SKIP
    """

    def __init__(self) -> None:
        self.latest: dict[str, Evaluation] = {}

    def on_evaluation(self, trainer: L.Trainer, detector: L.LightningModule, evaluation: Evaluation) -> None:
        self.latest[evaluation.stage] = evaluation
