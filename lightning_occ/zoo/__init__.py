"""The lightning-occ model zoo: pretrained detectors with recorded, reproducible metrics.

Example:
    >>> import lightning_occ as lo
    >>> "ocsdf-breast-cancer" in lo.zoo.list_models()
    True
    >>> lo.zoo.get_info("ocsdf-breast-cancer")["method"]
    'OCSDF'
"""

from __future__ import annotations

import importlib
from typing import Any

from lightning_occ.zoo.errors import ZooError
from lightning_occ.zoo.registry import ZOO_PREFIX, Registry, ZooEntry, default_registry

_LOADING = ("checkpoint_path", "evaluation_config", "load", "pretrained_state")  # need torch: loaded on first use

__all__ = [
    "ZOO_PREFIX",
    "Registry",
    "ZooEntry",
    "ZooError",
    "checkpoint_path",
    "evaluation_config",
    "get_info",
    "list_models",
    "load",
    "pretrained_state",
]


def list_models(pattern: str | None = None, registry: Registry | None = None) -> list[str]:
    """Names of the zoo's entries, optionally filtered by a shell-style ``pattern`` (``"clad-*"``)."""
    return (registry or default_registry()).names(pattern)


def get_info(name: str, registry: Registry | None = None) -> dict[str, Any]:
    """Everything recorded about an entry: method, dataset, scenario, recipe, metrics (clean and
    certified AUROC), sha256, size, licence, paper."""
    return (registry or default_registry()).get(name.removeprefix(ZOO_PREFIX)).to_dict()


def __getattr__(name: str) -> Any:
    if name in _LOADING:
        return getattr(importlib.import_module("lightning_occ.zoo.loading"), name)
    raise AttributeError(f"module 'lightning_occ.zoo' has no attribute {name!r}")
