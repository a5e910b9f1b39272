"""EpochSeededSampler replays a seeded shuffling DataLoader epoch by epoch."""

import torch
from torch.utils.data import DataLoader

from lightning_occ.data.sampling import EpochSeededSampler


def test_epoch_orders_equal_a_seeded_shuffling_loader():
    data = list(range(23))
    loader = DataLoader(data, batch_size=5, shuffle=True, generator=torch.Generator().manual_seed(4))
    sampler = EpochSeededSampler(data, seed=4)
    for epoch in range(4):
        sampler.set_epoch(epoch)
        replayed = DataLoader(data, batch_size=5, sampler=sampler, generator=torch.Generator())
        assert [b.tolist() for b in loader] == [b.tolist() for b in replayed]
    sampler.set_epoch(2)
    again = list(sampler)
    sampler.set_epoch(2)
    assert list(sampler) == again  # a function of (seed, epoch) only
