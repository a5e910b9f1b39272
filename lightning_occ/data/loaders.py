"""The DataLoaders every lightning-occ DataModule serves, written once."""

from __future__ import annotations

import warnings
from typing import Any, cast

import torch
from torch.utils.data import DataLoader

from lightning_occ.core.batch import collate_anomaly_batch
from lightning_occ.data.distributed import evaluation_loader
from lightning_occ.data.sampling import EpochSeededSampler
from lightning_occ.data.unlabelled import UnlabelledDataset

__all__ = ["AnomalyDataLoaders"]


class AnomalyDataLoaders:
    """Mixin for a LightningDataModule with ``train/val/test_dataset`` and ``batch_size``,
    ``num_workers``, ``seed`` hyper-parameters.

    Training batches follow :class:`EpochSeededSampler` (resumable, global RNG untouched);
    evaluation never pads under DDP (:func:`evaluation_loader`); ``predict`` reads ``predict_path``
    (unlabelled inputs) when the DataModule has one, else the test split.
    """

    hparams: Any
    train_dataset: Any
    val_dataset: Any
    test_dataset: Any
    predict_dataset: Any

    def train_dataloader(self) -> DataLoader:
        hp = self.hparams
        return DataLoader(
            self.train_dataset,
            batch_size=hp.batch_size,
            sampler=EpochSeededSampler(self.train_dataset, hp.seed),
            generator=torch.Generator().manual_seed(hp.seed),  # worker seeds; global RNG untouched
            num_workers=hp.num_workers,
            collate_fn=collate_anomaly_batch,
        )

    def val_dataloader(self) -> DataLoader | list:
        """The validation split; none (validation skipped, with a warning) when it holds no anomaly,
        as in the MVTec layout whose train split is all normal: an AUROC needs both classes."""
        labels = getattr(self.val_dataset, "is_anomaly", None)
        if labels is not None and not bool((labels == 1).any()):
            warnings.warn(
                "The validation split holds no anomaly (e.g. an MVTec-style train/good/ folder), so "
                "validation is skipped; checkpoints cannot monitor val/auroc.",
                stacklevel=2,
            )
            return []
        return evaluation_loader(self.val_dataset, self.hparams.batch_size, self.hparams.num_workers)

    def test_dataloader(self) -> DataLoader:
        return evaluation_loader(self.test_dataset, self.hparams.batch_size, self.hparams.num_workers)

    def predict_dataloader(self) -> DataLoader:
        """``predict_path``'s unlabelled inputs when given (see :meth:`unlabelled_inputs`), else the test split."""
        if getattr(self.hparams, "predict_path", None):
            self.predict_dataset = self.unlabelled_inputs(self.hparams.predict_path)
            return evaluation_loader(self.predict_dataset, self.hparams.batch_size, self.hparams.num_workers)
        cast(Any, self).setup()
        self.predict_dataset = self.test_dataset
        return self.test_dataloader()

    def unlabelled_inputs(self, path: str) -> UnlabelledDataset:
        raise NotImplementedError(f"{type(self).__name__} cannot read unlabelled inputs for predict.")

    def predict_ids(self) -> list[str]:
        """One id per predicted input: file names or row numbers of ``predict_path``, else test-split row numbers."""
        dataset = getattr(self, "predict_dataset", None)
        if isinstance(dataset, UnlabelledDataset):
            return dataset.ids
        return [str(i) for i in range(len(dataset))] if dataset is not None else []
