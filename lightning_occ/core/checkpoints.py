"""Load any lightning-occ detector back from a Lightning checkpoint, without knowing its class."""

from __future__ import annotations

import importlib
import pickle
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from lightning_occ.core.detector import DETECTOR_CLASS_KEY, AnomalyDetector
from lightning_occ.errors import CheckpointError, MissingCheckpointError, UnsafeCheckpointError

__all__ = ["UNSAFE_LOAD_HINT", "load_checkpoint", "load_detector"]

UNSAFE_LOAD_HINT = (
    "If you trust the file and its author, opt in with `--trainer.unsafe_load true` (command line) "
    "or `unsafe_load=True` (Python)."
)


def load_checkpoint(path: str | Path, map_location: Any = "cpu", unsafe_load: bool = False) -> dict[str, Any]:
    """Read a checkpoint without running code from it (``torch.load(weights_only=True)``).

    Args:
        path: the ``.ckpt`` file.
        map_location: where to load the tensors.
        unsafe_load: allow arbitrary pickled objects; this executes code from the file, so only for
            files you trust.

    Raises:
        UnsafeCheckpointError: the file holds a pickled object (named in the message).
        CheckpointError: the file is missing, truncated or not a torch checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingCheckpointError(f"No checkpoint at {path}: pass the .ckpt file a `lightning-occ fit` wrote.")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=not unsafe_load)
    except pickle.UnpicklingError as error:
        found = re.search(r"GLOBAL ([\w.]+)", str(error)) or re.search(r"Unsupported global: ([\w.]+)", str(error))
        if found:
            raise UnsafeCheckpointError(
                f"Refusing to load {path}: it holds a pickled object ({found.group(1)}) that "
                f"loading would execute. {UNSAFE_LOAD_HINT}"
            ) from None
        raise CheckpointError(
            f"Cannot read {path} as a checkpoint (truncated, or not a file torch.save wrote)."
        ) from None
    except Exception as error:  # a truncated or foreign file can fail anywhere inside the unpickler
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(
            f"Cannot read {path} as a checkpoint (truncated, or not a file torch.save wrote): {reason}"
        ) from None
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"{path} holds a {type(checkpoint).__name__}, not a Lightning checkpoint (a dict).")
    return checkpoint


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
    path: str | Path,
    map_location: str | torch.device = "cpu",
    default_class: type[AnomalyDetector] | None = None,
    unsafe_load: bool = False,
) -> AnomalyDetector:
    """Rebuild the detector saved in a checkpoint written by a lightning-occ ``fit``.

    Nothing in the file is executed: it is read with ``torch.load(weights_only=True)`` and only
    classes inside ``lightning_occ`` are instantiated, unless ``unsafe_load``.

    Args:
        path: the ``.ckpt`` file.
        map_location: where to load the tensors.
        default_class: the class to use when the checkpoint does not name one (plain Lightning checkpoints).
        unsafe_load: allow pickled objects and detector classes from other packages (trusted files only).

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
    checkpoint = load_checkpoint(path, map_location, unsafe_load)
    class_path = checkpoint.get(DETECTOR_CLASS_KEY)
    if class_path is None and default_class is not None:
        detector_class = default_class
    elif class_path is None:
        raise CheckpointError(
            f"{path} is not a lightning-occ detector checkpoint (no '{DETECTOR_CLASS_KEY}' entry); "
            "load it with YourModel.load_from_checkpoint instead."
        )
    else:
        detector_class = _detector_class(str(class_path), path, unsafe_load)
    with _outside_cli_instantiation():
        return detector_class.load_from_checkpoint(path, map_location=map_location, weights_only=not unsafe_load)


def _detector_class(class_path: str, path: Path, unsafe_load: bool) -> type[AnomalyDetector]:
    """The class a checkpoint names; outside ``lightning_occ`` only with ``unsafe_load`` (importing a
    module runs its code)."""
    module_name, _, class_name = class_path.rpartition(".")
    if not module_name.startswith("lightning_occ.") and not unsafe_load:
        raise UnsafeCheckpointError(
            f"Refusing to load {path}: it names the detector class {class_path}, outside "
            f"lightning_occ, whose module would be imported. {UNSAFE_LOAD_HINT}"
        )
    try:
        detector_class = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError):
        raise CheckpointError(f"{path} names the detector class {class_path}, which cannot be imported.") from None
    if not (isinstance(detector_class, type) and issubclass(detector_class, AnomalyDetector)):
        raise CheckpointError(f"{path} names {class_path}, which is not an AnomalyDetector.")
    return detector_class
