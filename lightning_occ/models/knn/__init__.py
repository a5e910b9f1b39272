"""KNNDetector: see the class docstring in lightning_model.py."""

from lightning_occ.models.knn.lightning_model import KNNDetector

__all__ = ["KNNDetector"]
