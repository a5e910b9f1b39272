"""Threshold: choose the detector's decision threshold on validation data, by a rule the user names."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch

from lightning_occ.core.detector import AnomalyDetector
from lightning_occ.core.evaluation import Evaluation
from lightning_occ.data.subsets import first_items
from lightning_occ.errors import UserError
from lightning_occ.metrics.decisions import THRESHOLD_RULES, choose_threshold, describe_rule

__all__ = ["Threshold"]


class Threshold(L.Callback):
    """After every validation epoch, set the detector's decision threshold from the validation scores
    (the train side of the data, never the test split); it is saved in the checkpoints written after
    that validation, and ``test`` reports precision, recall, F1, FPR and certified accuracy at it.

    When validation does not run (a validation split without anomalies, as in the MVTec layout, has
    no AUROC), the ``fpr`` and ``contamination`` rules score the validation split directly at the end
    of each training epoch; ``f1`` needs anomalies there and says so before training starts.

    Args:
        rule: ``fpr`` (default): at most ``value`` false positives among validation normals;
            ``contamination``: flag the ``value`` fraction of validation samples (PyOD's meaning);
            ``f1``: the best F1 on validation (needs anomalies there).
        value: the target FPR (default 0.05) or the contamination, in (0, 0.5]; unused by ``f1``.

    Command line: ``--threshold.rule f1`` or ``--threshold.rule contamination --threshold.value 0.1``.
    """

    def __init__(self, rule: str = "fpr", value: float = 0.05) -> None:
        if rule not in THRESHOLD_RULES:
            raise ValueError(f"Unknown threshold rule {rule!r}; choose one of {', '.join(THRESHOLD_RULES)}.")
        if rule == "contamination" and not 0 < value <= 0.5:
            raise ValueError(f"contamination must lie in (0, 0.5] (the fraction of samples flagged), got {value}.")
        if rule == "fpr" and not 0 <= value < 1:
            raise ValueError(f"The target false-positive rate must lie in [0, 1), got {value}.")
        self.rule, self.value = rule, float(value)

    def _validation_split(self, trainer: L.Trainer) -> Any:
        return getattr(getattr(trainer, "datamodule", None), "val_dataset", None)

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        split = self._validation_split(trainer)
        if stage != "fit" or self.rule != "f1" or split is None or len(split) == 0:
            return
        if not bool(first_items(split, len(split))[1].bool().any()):
            raise UserError(
                "Threshold rule 'f1' needs anomalies in the validation split, which holds none: use "
                "--threshold.rule fpr (a target false-positive rate on validation normals) or "
                "--threshold.rule contamination."
            )

    def on_evaluation(self, trainer: L.Trainer, detector: L.LightningModule, evaluation: Evaluation) -> None:
        if evaluation.stage != "val" or not isinstance(detector, AnomalyDetector):
            return
        threshold = choose_threshold(evaluation.scores, evaluation.target, self.rule, self.value)
        detector.set_threshold(threshold, describe_rule(self.rule, self.value))

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Without a validation loop, score the validation split here (before the epoch's checkpoint)."""
        if any(getattr(trainer, "num_val_batches", None) or []) or not isinstance(pl_module, AnomalyDetector):
            return
        split = self._validation_split(trainer)
        if split is None or len(split) == 0 or self.rule == "f1":
            return
        x, target = first_items(split, len(split))
        with torch.no_grad():
            scores = torch.cat([pl_module.score(chunk.to(pl_module.device)).cpu() for chunk in x.split(512)])
        threshold = choose_threshold(scores, target, self.rule, self.value)
        pl_module.set_threshold(threshold, describe_rule(self.rule, self.value))
