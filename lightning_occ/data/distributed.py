"""Evaluation sampler that never pads: every sample is scored exactly once across processes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler

from lightning_occ.core.batch import collate_anomaly_batch

__all__ = ["UnpaddedDistributedSampler", "evaluation_loader"]


class UnpaddedDistributedSampler(DistributedSampler):
    """Shards ``range(len(dataset))`` as ``rank, rank + world, ...`` without repeating samples.

    torch's ``DistributedSampler`` (which Lightning inserts for evaluation) pads the dataset with
    duplicates so that every process gets the same number of batches; for a gathered metric such as
    AUROC the duplicates change the result. Lightning leaves a ``DistributedSampler`` it finds in
    place, so a DataModule returning this sampler keeps evaluation exact. Metrics must then be
    synchronised at epoch end (torchmetrics does), never per step, since processes may run a
    different number of batches.
    """

    def __init__(self, dataset: Any, num_replicas: int | None = None, rank: int | None = None) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=False, drop_last=False)
        self.num_samples = len(range(self.rank, len(dataset), self.num_replicas))
        self.total_size = len(dataset)

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, self.total_size, self.num_replicas))


def evaluation_loader(dataset: Dataset, batch_size: int, num_workers: int = 0) -> DataLoader:
    """An unshuffled DataLoader; sharded without padding when torch.distributed is initialised."""
    sampler = UnpaddedDistributedSampler(dataset) if dist.is_available() and dist.is_initialized() else None
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        sampler=sampler,
        num_workers=num_workers,
        collate_fn=collate_anomaly_batch,
    )
