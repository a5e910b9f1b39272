"""Threshold: choose the detector's decision threshold on validation data, by a rule the user names."""

from __future__ import annotations

import lightning as L

from lightning_occ.core.detector import AnomalyDetector
from lightning_occ.core.evaluation import Evaluation
from lightning_occ.metrics.decisions import THRESHOLD_RULES, choose_threshold, describe_rule

__all__ = ["Threshold"]


class Threshold(L.Callback):
    """After every validation epoch, set the detector's decision threshold from the validation scores
    (the train side of the data, never the test split); it is saved in the checkpoints written after
    that validation, and ``test`` reports precision, recall, F1, FPR and certified accuracy at it.

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

    def on_evaluation(self, trainer: L.Trainer, detector: L.LightningModule, evaluation: Evaluation) -> None:
        if evaluation.stage != "val" or not isinstance(detector, AnomalyDetector):
            return
        threshold = choose_threshold(evaluation.scores, evaluation.target, self.rule, self.value)
        detector.set_threshold(threshold, describe_rule(self.rule, self.value))
