"""Reading the first items of any evaluation dataset as tensors (for report figures)."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from lightning_occ.core.batch import collate_anomaly_batch

__all__ = ["first_items"]


def first_items(dataset: Dataset, limit: int) -> tuple[Tensor, Tensor]:
    """Inputs and anomaly labels of the first ``limit`` items of a dataset yielding ``(x, is_anomaly, ...)``.

    Example:
        >>> from torch.utils.data import TensorDataset
        >>> x, y = first_items(TensorDataset(torch.rand(5, 2), torch.tensor([0, 1, 0, 1, 1])), 3)
        >>> x.shape, y.tolist()
        (torch.Size([3, 2]), [0, 1, 0])
    """
    inputs, targets, seen = [], [], 0
    for batch in DataLoader(dataset, batch_size=min(limit, 512), collate_fn=collate_anomaly_batch):
        x, target = batch.labelled()
        inputs.append(x)
        targets.append(target)
        seen += x.shape[0]
        if seen >= limit:
            break
    return torch.cat(inputs)[:limit], torch.cat(targets)[:limit]
