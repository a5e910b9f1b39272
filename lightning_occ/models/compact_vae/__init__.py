"""CompactVAE: see the class docstring in lightning_model.py."""

from lightning_occ.models.compact_vae.lightning_model import CompactVAE

__all__ = ["CompactVAE"]
