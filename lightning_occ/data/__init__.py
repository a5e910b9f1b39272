"""LightningDataModules for anomaly detection."""

from lightning_occ.data.distributed import UnpaddedDistributedSampler
from lightning_occ.data.scenario import ScenarioDataModule, ScenarioDataset
from lightning_occ.data.scenarios import SUPER_CATEGORIES
from lightning_occ.data.tabular import TabularDataModule
from lightning_occ.data.vision_sources import load_images

__all__ = [
    "SUPER_CATEGORIES",
    "ScenarioDataModule",
    "ScenarioDataset",
    "TabularDataModule",
    "UnpaddedDistributedSampler",
    "load_images",
]
