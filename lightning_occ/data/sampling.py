"""A shuffling sampler whose order depends only on (seed, epoch), so a resumed run sees the same batches."""

from __future__ import annotations

from collections.abc import Iterator, Sized

import torch
from torch.utils.data import Sampler

__all__ = ["EpochSeededSampler"]


class EpochSeededSampler(Sampler[int]):
    """Shuffled indices for epoch ``e`` as a function of ``(seed, e)`` only.

    The order is the one ``DataLoader(shuffle=True, generator=torch.Generator().manual_seed(seed))``
    gives in its e-th epoch (each epoch that loader draws a worker base seed and two permutations
    from its generator), replayed from the seed. So a run interrupted and resumed from a checkpoint
    sees exactly the batches of an uninterrupted one. Lightning calls ``set_epoch`` on the training
    sampler at every epoch; under DDP it wraps this sampler in a ``DistributedSampler`` of its own.

    Example:
        >>> sampler = EpochSeededSampler(range(5), seed=0)
        >>> first = list(sampler); sampler.set_epoch(1); second = list(sampler)
        >>> sorted(first) == sorted(second) == [0, 1, 2, 3, 4] and first != second
        True
    """

    def __init__(self, data_source: Sized, seed: int = 0) -> None:
        self.data_source, self.seed, self.epoch = data_source, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        n = len(self.data_source)
        generator = torch.Generator().manual_seed(self.seed)
        for _ in range(self.epoch + 1):
            torch.empty((), dtype=torch.int64).random_(generator=generator)  # the loader's worker base seed
            order = torch.randperm(n, generator=generator)
            torch.randperm(n, generator=generator)  # RandomSampler's trailing (empty) partial permutation
        return iter(order.tolist())

    def __len__(self) -> int:
        return len(self.data_source)
