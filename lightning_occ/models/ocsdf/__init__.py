"""OCSDF: see the class docstring in lightning_model.py."""

from lightning_occ.models.ocsdf.lightning_model import OCSDF

__all__ = ["OCSDF"]
