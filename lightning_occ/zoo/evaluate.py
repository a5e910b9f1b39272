"""Re-evaluating a zoo entry on its recorded scenario (the figures in the registry come from here)."""

from __future__ import annotations

import importlib
from typing import Any

import lightning as L

from lightning_occ.utils.trainers import quiet_trainer
from lightning_occ.zoo.errors import ZooError
from lightning_occ.zoo.loading import load
from lightning_occ.zoo.registry import Registry, default_registry

__all__ = ["build_datamodule", "evaluate_entry"]


def build_datamodule(data: dict[str, Any]) -> L.LightningDataModule:
    """The DataModule of a ``{"class_path", "init_args"}`` record (lightning-occ DataModules only)."""
    module_name, _, class_name = data["class_path"].rpartition(".")
    if not module_name.startswith("lightning_occ."):
        raise ZooError(f"Zoo entries may only name lightning-occ DataModules, not {data['class_path']!r}.")
    return getattr(importlib.import_module(module_name), class_name)(**data.get("init_args", {}))


def evaluate_entry(name: str, registry: Registry | None = None) -> dict[str, float]:
    """``trainer.test`` of the loaded entry on its recorded scenario, on CPU: ``test/auroc`` and, where
    the detector has a bound, ``test/certified_auroc@eps``."""
    registry = registry or default_registry()
    model = load(name, registry)
    datamodule = build_datamodule(registry.get(name).data)
    trainer = quiet_trainer(accelerator="cpu")
    metrics = trainer.test(model, datamodule=datamodule, verbose=False)[0]
    return {k: float(v) for k, v in metrics.items() if k == "test/auroc" or k.startswith("test/certified_auroc@")}
