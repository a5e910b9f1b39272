"""Metrics: certified AUROC, exact AUROC and certified accuracy (torchmetrics), their functional forms, decisions."""

from lightning_occ.metrics import decisions, functional
from lightning_occ.metrics.certified_accuracy import CertifiedAccuracy
from lightning_occ.metrics.certified_auroc import CertifiedAUROC
from lightning_occ.metrics.exact_auroc import ExactAUROC

__all__ = ["CertifiedAUROC", "CertifiedAccuracy", "ExactAUROC", "decisions", "functional"]
