"""Callbacks: the end-of-test report, the decision threshold, predictions, the PGD attack check, resuming
random streams, pretrained weights, an evaluation recorder."""

from lightning_occ.callbacks.attack_check import AttackCheck
from lightning_occ.callbacks.predictions import PredictionWriter
from lightning_occ.callbacks.pretrained import PretrainedWeights
from lightning_occ.callbacks.recorder import EvaluationRecorder
from lightning_occ.callbacks.report import CertifiedReport
from lightning_occ.callbacks.resume import ResumeRandomState
from lightning_occ.callbacks.threshold import Threshold

__all__ = [
    "AttackCheck",
    "CertifiedReport",
    "EvaluationRecorder",
    "PredictionWriter",
    "PretrainedWeights",
    "ResumeRandomState",
    "Threshold",
]
