"""A user's own DataModule, written from the protocol's documentation only (no lightning-occ base class)."""

from __future__ import annotations

import lightning as L
import torch
from torch.utils.data import DataLoader, TensorDataset


class BlobsDataModule(L.LightningDataModule):
    """Normal inputs near 0, anomalies near ``shift``; ``input_shape`` may be a vector or an image shape."""

    def __init__(self, input_shape: tuple[int, ...] = (2,), n: int = 96, shift: float = 0.6, seed: int = 0) -> None:
        super().__init__()
        self.input_shape = input_shape
        generator = torch.Generator().manual_seed(seed)
        centre = torch.full(input_shape, 0.3)
        self.train = centre + 0.05 * torch.randn(n, *input_shape, generator=generator)
        normal = centre + 0.05 * torch.randn(n // 2, *input_shape, generator=generator)
        anomalous = centre + shift + 0.05 * torch.randn(n // 2, *input_shape, generator=generator)
        self.test_x = torch.cat([normal, anomalous])
        self.test_y = torch.cat([torch.zeros(n // 2), torch.ones(n // 2)]).long()

    def train_features(self) -> torch.Tensor:
        return self.train

    def train_dataloader(self) -> DataLoader:
        return DataLoader(TensorDataset(self.train, torch.zeros(len(self.train)).long()), batch_size=32, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self.test_dataloader()

    def test_dataloader(self) -> DataLoader:
        return DataLoader(TensorDataset(self.test_x, self.test_y), batch_size=32)
