"""CLAD: see the class docstring in lightning_model.py."""

from lightning_occ.models.clad.lightning_model import CLAD

__all__ = ["CLAD"]
