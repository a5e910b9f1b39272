"""Estimators with the scikit-learn / PyOD interface (``fit``, ``decision_function``, ``predict``) and ``certify``."""

from lightning_occ.estimators.certified import DETECTORS, CertifiedOutlierDetector

__all__ = ["DETECTORS", "CertifiedOutlierDetector"]
