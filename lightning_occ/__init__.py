"""lightning-occ: certifiably robust one-class classification for PyTorch Lightning.

The public names load on first use, so ``lightning-occ zoo list`` and ``--help`` start without
importing torch or Lightning.

>>> import lightning_occ as lo
>>> sorted(lo.__all__)[:3]
['AnomalyDetector', 'CertifiedAUROC', 'CertifiedOutlierDetector']
"""

from __future__ import annotations

import importlib
from importlib import metadata as _metadata
from typing import Any

try:
    __version__ = _metadata.version("lightning-occ")  # one source: the version in pyproject.toml
except _metadata.PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"

_HOMES = {
    "AnomalyDetector": "lightning_occ.core.detector",
    "CertifiedAUROC": "lightning_occ.metrics",
    "CertifiedOutlierDetector": "lightning_occ.estimators",
    "CertifiedReport": "lightning_occ.callbacks",
    "KNNDetector": "lightning_occ.models",
    "OCSDF": "lightning_occ.models",
    "ScenarioDataModule": "lightning_occ.data",
    "TabularDataModule": "lightning_occ.data",
    "Threshold": "lightning_occ.callbacks",
}
__all__ = [*_HOMES, "zoo"]


def __getattr__(name: str) -> Any:
    if name == "zoo":
        return importlib.import_module("lightning_occ.zoo")
    if name in _HOMES:
        value = getattr(importlib.import_module(_HOMES[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lightning_occ' has no attribute {name!r}")
