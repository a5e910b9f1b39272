"""The batch every detector reads: inputs, labels and (optionally) sub-class labels, by name."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from torch import Tensor
from torch.utils.data import default_collate

__all__ = ["AnomalyBatch", "collate_anomaly_batch"]


class AnomalyBatch(NamedTuple):
    """A batch of inputs with, where known, their labels (1 = anomaly) and original class labels.

    A named tuple: Lightning moves it between devices as it is, and ``batch[0]`` still works.

    Example:
        >>> import torch
        >>> batch = AnomalyBatch.of([torch.zeros(2, 3), torch.tensor([0, 1])])
        >>> batch.input.shape, batch.target.tolist(), batch.sub_label
        (torch.Size([2, 3]), [0, 1], None)
    """

    input: Tensor
    target: Tensor | None = None
    sub_label: Tensor | None = None

    @classmethod
    def of(cls, batch: Any) -> AnomalyBatch:
        """Read what a DataLoader yields: an ``AnomalyBatch``, a tuple/list ``(input[, target[, sub_label]])``,
        a mapping with those keys, or a bare input tensor."""
        if isinstance(batch, AnomalyBatch):
            return batch
        if isinstance(batch, Tensor):
            return cls(batch)
        if isinstance(batch, Mapping):
            unknown = set(batch) - set(cls._fields)
            if unknown or "input" not in batch:
                raise ValueError(
                    f"A batch mapping needs the key 'input' (and optionally 'target', 'sub_label'); "
                    f"got keys {sorted(batch)}."
                )
            return cls(**batch)
        if isinstance(batch, Sequence) and 1 <= len(batch) <= 3:
            return cls(*batch)
        raise ValueError(
            f"Cannot read a batch of type {type(batch).__name__}: yield (input, target) tuples, "
            "an AnomalyBatch, or a tensor of inputs."
        )

    def labelled(self) -> tuple[Tensor, Tensor]:
        """``(input, target)``, with a clear error when the batch has no labels (evaluation needs them)."""
        if self.target is None:
            raise ValueError(
                "This batch has no labels (target), but evaluation needs them: validate and test on "
                "labelled data (1 = anomaly, 0 = normal); use predict for unlabelled inputs."
            )
        return self.input, self.target


def collate_anomaly_batch(items: list[Any]) -> AnomalyBatch:
    """``default_collate`` into an :class:`AnomalyBatch` (the ``collate_fn`` of lightning-occ's loaders)."""
    return AnomalyBatch.of(default_collate(items))
