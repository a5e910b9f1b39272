"""ArrayDataModule: in-memory training inputs (numpy or torch) as a DataModule every detector accepts."""

from __future__ import annotations

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader, TensorDataset

from lightning_occ.core.batch import collate_anomaly_batch
from lightning_occ.data.sampling import EpochSeededSampler

__all__ = ["ArrayDataModule"]


class ArrayDataModule(L.LightningDataModule):
    """Training inputs held in memory (all taken as normal), optionally labelled test inputs.

    Example:
        >>> dm = ArrayDataModule(torch.zeros(10, 3))
        >>> dm.input_shape, dm.train_features().shape
        ((3,), torch.Size([10, 3]))
    """

    def __init__(
        self,
        train: Tensor,
        test: Tensor | None = None,
        test_target: Tensor | None = None,
        batch_size: int = 128,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.train = torch.as_tensor(train, dtype=torch.float32)
        self.test, self.test_target = test, test_target
        self.batch_size, self.seed = batch_size, seed

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.train.shape[1:])

    def train_features(self) -> Tensor:
        return self.train

    def train_dataloader(self) -> DataLoader:
        dataset = TensorDataset(self.train)
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=EpochSeededSampler(dataset, self.seed),
            collate_fn=collate_anomaly_batch,
        )

    def test_dataloader(self) -> DataLoader:
        if self.test is None or self.test_target is None:
            raise ValueError("ArrayDataModule has no labelled test inputs: pass test and test_target.")
        return DataLoader(
            TensorDataset(torch.as_tensor(self.test, dtype=torch.float32), torch.as_tensor(self.test_target)),
            batch_size=self.batch_size,
            collate_fn=collate_anomaly_batch,
        )
