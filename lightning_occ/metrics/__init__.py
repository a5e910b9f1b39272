"""Metrics: certified AUROC (torchmetrics) and its functional form."""

from lightning_occ.metrics import functional
from lightning_occ.metrics.certified_auroc import CertifiedAUROC

__all__ = ["CertifiedAUROC", "functional"]
