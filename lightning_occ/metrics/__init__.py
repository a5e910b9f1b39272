"""Metrics: certified AUROC and exact AUROC (torchmetrics) and the functional form."""

from lightning_occ.metrics import functional
from lightning_occ.metrics.certified_auroc import CertifiedAUROC
from lightning_occ.metrics.exact_auroc import ExactAUROC

__all__ = ["CertifiedAUROC", "ExactAUROC", "functional"]
