"""MahalanobisDetector: see the class docstring in lightning_model.py."""

from lightning_occ.models.mahalanobis.lightning_model import MahalanobisDetector

__all__ = ["MahalanobisDetector"]
