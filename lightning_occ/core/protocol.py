"""What a detector may ask of a DataModule, as a typed protocol, and the helpers that ask it.

Any ``LightningDataModule`` works with every detector when it has:

* ``input_shape``: the shape of one input, e.g. ``(1, 28, 28)`` or ``(30,)``;
* ``train_features()``: every normal training input as one tensor (k-means, kNN banks, VAE code
  banks and OCSDF's negative sampler read the whole training set, identically on every process);
* optionally ``train_sub_labels()``: the original class of each training input (CLAD logs its
  clustering purity), and ``test_dataset`` yielding ``(input, target, ...)`` (report figures).

Its loaders yield ``(input, target[, sub_label])`` tuples or :class:`~lightning_occ.core.batch.AnomalyBatch`.

Example:
    >>> import torch, lightning as L
    >>> class Blobs(L.LightningDataModule):
    ...     input_shape = (2,)
    ...     def train_features(self):
    ...         return torch.randn(64, 2)
    >>> isinstance(Blobs(), AnomalyDataModule)
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import lightning as L
import torch
from torch import Tensor

from lightning_occ.core.batch import AnomalyBatch

__all__ = [
    "AnomalyDataModule",
    "SubLabelledDataModule",
    "attached_datamodule",
    "datamodule_input_shape",
    "training_inputs",
    "training_sub_labels",
]


@runtime_checkable
class AnomalyDataModule(Protocol):
    """The input shape and the normal training inputs (see the module docstring)."""

    @property
    def input_shape(self) -> Sequence[int]: ...

    def train_features(self) -> Tensor: ...


@runtime_checkable
class SubLabelledDataModule(Protocol):
    """A DataModule that also knows the original class of every training input."""

    def train_sub_labels(self) -> Tensor: ...


def attached_datamodule(module: L.LightningModule) -> object | None:
    """The DataModule of the Trainer ``module`` is attached to, or None."""
    return getattr(module.trainer, "datamodule", None) if module._trainer is not None else None


def datamodule_input_shape(module: L.LightningModule, hint: str = "`input_shape`") -> tuple[int, ...]:
    """The attached DataModule's ``input_shape``, for networks built once the data is known."""
    datamodule = attached_datamodule(module)
    shape = getattr(datamodule, "input_shape", None)
    if shape is None:
        raise ValueError(
            f"{type(module).__name__} needs {hint}, or a DataModule with an `input_shape` "
            "(see lightning_occ.core.protocol.AnomalyDataModule)."
        )
    return tuple(int(d) for d in shape)


def training_inputs(module: L.LightningModule, needed_by: str | None = None) -> Tensor:
    """Every normal training input: the DataModule's ``train_features()``, else the concatenated
    batches of the Trainer's training loader (a plain ``train_dataloaders=`` fit)."""
    datamodule = attached_datamodule(module)
    if isinstance(datamodule, AnomalyDataModule):
        return datamodule.train_features()
    if needed_by is not None:
        raise ValueError(
            f"{needed_by} needs a DataModule with train_features() and input_shape "
            "(see lightning_occ.core.protocol.AnomalyDataModule)."
        )
    loader = module.trainer.train_dataloader
    if loader is None:
        raise ValueError(
            f"{type(module).__name__} needs its training data: fit with a DataModule that has "
            "train_features(), or with train_dataloaders."
        )
    return torch.cat([AnomalyBatch.of(batch).input for batch in loader])


def training_sub_labels(module: L.LightningModule) -> Tensor | None:
    """The original class of every training input, when the DataModule knows it."""
    datamodule = attached_datamodule(module)
    return datamodule.train_sub_labels() if isinstance(datamodule, SubLabelledDataModule) else None
