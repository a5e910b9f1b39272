"""The detector contract and what it is made of; imports nothing from methods, callbacks, the zoo or the CLI."""

from lightning_occ.core.batch import AnomalyBatch, collate_anomaly_batch
from lightning_occ.core.card import MethodCard
from lightning_occ.core.detector import DETECTOR_CLASS_KEY, AnomalyDetector
from lightning_occ.core.evaluation import ATTACKED_CURVE, Evaluation, EvaluationListener
from lightning_occ.core.fitted import FittedDetector
from lightning_occ.core.lazy import LazyNetworkDetector
from lightning_occ.core.protocol import AnomalyDataModule, SubLabelledDataModule

__all__ = [
    "ATTACKED_CURVE",
    "DETECTOR_CLASS_KEY",
    "AnomalyBatch",
    "AnomalyDataModule",
    "AnomalyDetector",
    "Evaluation",
    "EvaluationListener",
    "FittedDetector",
    "LazyNetworkDetector",
    "MethodCard",
    "SubLabelledDataModule",
    "collate_anomaly_batch",
]
