"""Anomaly detectors, one folder per method, each a LightningModule following the AnomalyDetector contract."""

from lightning_occ.models.clad import CLAD
from lightning_occ.models.compact_vae import CompactVAE
from lightning_occ.models.knn import KNNDetector
from lightning_occ.models.mahalanobis import MahalanobisDetector
from lightning_occ.models.ocsdf import OCSDF
from lightning_occ.models.pyod import PyODDetector

__all__ = ["CLAD", "CompactVAE", "KNNDetector", "MahalanobisDetector", "OCSDF", "PyODDetector"]
