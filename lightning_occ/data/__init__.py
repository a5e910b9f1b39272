"""LightningDataModules for anomaly detection."""

from lightning_occ.data.distributed import UnpaddedDistributedSampler
from lightning_occ.data.tabular import TabularDataModule

__all__ = ["TabularDataModule", "UnpaddedDistributedSampler"]
