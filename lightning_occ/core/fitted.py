"""Detectors fitted in one pass over the normal training data (no gradient steps): kNN, Mahalanobis, adapters."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import torch
from torch import Tensor, nn

from lightning_occ.core.batch import AnomalyBatch
from lightning_occ.core.detector import AnomalyDetector
from lightning_occ.core.protocol import AnomalyDataModule, attached_datamodule

__all__ = ["FittedDetector"]


class FittedDetector(AnomalyDetector):
    """A detector whose state is computed from the whole normal training set, not learned by steps.

    ``fit`` calls :meth:`fit_data` once, before the sanity-check validation, with the DataModule's
    ``train_features()`` (the same full set on every process under DDP); with plain training
    loaders it collects the first epoch's batches instead. The fitted state lives in buffers, so it
    is saved in checkpoints; :meth:`_load_from_state_dict` resizes them to the checkpoint's shapes.
    """

    fitted_buffers: tuple[str, ...] = ()
    """Names of the buffers :meth:`fit_data` fills (resized when a checkpoint is loaded)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._seen: list[Tensor] = []
        self.automatic_optimization = False
        # DistributedDataParallel refuses modules without a trainable parameter; this one is never
        # used by the score (so `lightning-occ fit --trainer.strategy ddp` works for these too).
        self.ddp_anchor = nn.Parameter(torch.zeros(()))

    @abstractmethod
    def fit_data(self, features: Tensor) -> None:
        """Compute the detector's state from every normal training input, shape (N, ...)."""

    @property
    @abstractmethod
    def is_fitted(self) -> bool: ...

    def on_fit_start(self) -> None:
        super().on_fit_start()
        datamodule = attached_datamodule(self)
        if isinstance(datamodule, AnomalyDataModule):
            self.fit_data(datamodule.train_features())

    def training_step(self, batch: Any, batch_idx: int) -> None:
        if not self.is_fitted:
            self._seen.append(AnomalyBatch.of(batch).input.detach())

    def on_train_epoch_end(self) -> None:
        if self._seen:
            self.fit_data(torch.cat(self._seen))
            self._seen = []

    def configure_optimizers(self) -> Any:
        return None

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any) -> None:
        state_dict.setdefault(prefix + "ddp_anchor", torch.zeros(()))  # checkpoints from before the anchor
        for name in self.fitted_buffers:
            if prefix + name in state_dict:
                current = getattr(self, name)
                setattr(self, name, torch.empty_like(state_dict[prefix + name], device=current.device))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
