"""Smoothing certifiers: certificates for detectors without a Lipschitz bound.

* :class:`RandomizedSmoothing` certifies the normal/anomaly decision (Cohen et al., 2019).
* :class:`PercentileSmoothing` certifies a real-valued score with lower/upper bounds per radius
  (Chiang et al., 2020); :class:`SmoothedDetector` turns it into certified AUROC for any detector.
* :class:`CenterSmoothing` certifies metric-space outputs such as latent codes (Kumar & Goldstein, 2021).
"""

from lightning_occ.certify.center import CenterCertificate, CenterSmoothing
from lightning_occ.certify.percentile import PercentileSmoothing, ScoreCertificate
from lightning_occ.certify.randomized import DecisionCertificate, RandomizedSmoothing
from lightning_occ.certify.smoothed_detector import SmoothedDetector

__all__ = [
    "CenterCertificate",
    "CenterSmoothing",
    "DecisionCertificate",
    "PercentileSmoothing",
    "RandomizedSmoothing",
    "ScoreCertificate",
    "SmoothedDetector",
]
