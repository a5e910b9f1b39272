"""Load any lightning-occ detector back from a Lightning checkpoint, without knowing its class."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from lightning_occ.detector import DETECTOR_CLASS_KEY, AnomalyDetector

__all__ = ["load_detector"]


@contextmanager
def _outside_cli_instantiation() -> Iterator[None]:
    """Hide the hyperparameters LightningCLI sets while it instantiates the *outer* module.

    LightningCLI passes a module's config to ``save_hyperparameters`` through a context variable;
    a detector loaded inside that module's ``__init__`` (e.g. ``SmoothedDetector(checkpoint=...)``)
    would otherwise save the outer module's hyperparameters as its own.
    """
    try:
        from lightning.pytorch.core.mixins.hparams_mixin import _given_hyperparameters
    except ImportError:  # a Lightning without the mechanism has nothing to hide
        yield
        return
    token = _given_hyperparameters.set(None)
    try:
        yield
    finally:
        _given_hyperparameters.reset(token)


def load_detector(
    path: str | Path, map_location: str | torch.device = "cpu", default_class: type[AnomalyDetector] | None = None
) -> AnomalyDetector:
    """Rebuild the detector saved in a checkpoint written by a lightning-occ ``fit``.

    Args:
        path: the ``.ckpt`` file.
        map_location: where to load the tensors.
        default_class: the class to use when the checkpoint does not name one (plain Lightning checkpoints).

    Example:
        >>> from lightning_occ.models import OCSDF
        >>> import lightning as L, tempfile, os
        >>> model = OCSDF(in_features=2, width=8, depth=1)
        >>> path = os.path.join(tempfile.mkdtemp(), "m.ckpt")
        >>> trainer = L.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False)
        >>> trainer.strategy.connect(model)
        >>> trainer.save_checkpoint(path)
        >>> type(load_detector(path)).__name__
        'OCSDF'
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint at {path}: pass the .ckpt file a `lightning-occ fit` wrote.")
    checkpoint = torch.load(path, map_location=map_location, weights_only=False)
    class_path = checkpoint.get(DETECTOR_CLASS_KEY) if isinstance(checkpoint, dict) else None
    if class_path is None and default_class is not None:
        with _outside_cli_instantiation():
            return default_class.load_from_checkpoint(path, map_location=map_location)
    if class_path is None:
        raise ValueError(
            f"{path} is not a lightning-occ detector checkpoint (no '{DETECTOR_CLASS_KEY}' entry); "
            "load it with YourModel.load_from_checkpoint instead."
        )
    module_name, _, class_name = class_path.rpartition(".")
    detector_class = getattr(importlib.import_module(module_name), class_name)
    if not issubclass(detector_class, AnomalyDetector):
        raise ValueError(f"{path} names {class_path}, which is not an AnomalyDetector.")
    with _outside_cli_instantiation():
        return detector_class.load_from_checkpoint(path, map_location=map_location)
