"""PyODDetector: see the class docstring in lightning_model.py."""

from lightning_occ.models.pyod.lightning_model import PyODDetector

__all__ = ["PyODDetector"]
