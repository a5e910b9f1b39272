"""lightning-occ: certifiably robust one-class classification for PyTorch Lightning.

>>> import lightning_occ as lo
>>> sorted(lo.__all__)[:3]
['AnomalyDetector', 'CertifiedAUROC', 'CertifiedReport']
"""

from lightning_occ.data import TabularDataModule
from lightning_occ.detector import AnomalyDetector
from lightning_occ.metrics import CertifiedAUROC
from lightning_occ.models import OCSDF, KNNDetector
from lightning_occ.report import CertifiedReport
from lightning_occ import zoo  # noqa: E402  (after the detectors it loads)

__version__ = "0.1.0"
__all__ = ["AnomalyDetector", "CertifiedAUROC", "CertifiedReport", "KNNDetector", "OCSDF", "TabularDataModule", "zoo"]
