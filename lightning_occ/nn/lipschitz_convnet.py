"""A 1-Lipschitz VGG-like convolutional network (pure torch): the OCSDF network for images."""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import Tensor, nn

from lightning_occ.nn.activations import GroupSort
from lightning_occ.nn.lipschitz_conv import (
    ProjectedConv2d,
    ScaledAvgPool2d,
    ScaledGlobalAvgPool2d,
    check_image_shape,
)
from lightning_occ.nn.orthogonal import FrobeniusLinear
from lightning_occ.nn.projected import ProjectedNetwork

__all__ = ["LipschitzConvNet"]


class LipschitzConvNet(ProjectedNetwork):
    """Stages of ``convs_per_stage`` x (3x3 conv, GroupSort2), scaled 2x2 pooling between stages,
    then a head (flatten or scaled global average pooling) and a unit-norm dense output:
    ``(N, C, H, W) -> (N,)``.

    The paper's images network is ``channels=(64, 128, 256)``, ``convs_per_stage=(4, 4, 3)``.

    Args:
        input_shape: ``(C, H, W)`` of the inputs (the layers' bounds depend on H and W).
        channels: output channels per stage (even, for GroupSort2).
        convs_per_stage: convolutions per stage, one number for all stages or one per stage.
        head: ``flatten`` (an isometry, then a unit-norm dense layer; keeps input gradients large)
            or ``global_pool`` (the paper's scaled global average pooling).

    Example:
        >>> import torch
        >>> net = LipschitzConvNet((1, 8, 8), channels=(4, 8), convs_per_stage=1)
        >>> net(torch.zeros(2, 1, 8, 8)).shape
        torch.Size([2])
        >>> net.lipschitz_bound() <= 1 + 1e-4
        True
    """

    constrained_types = (ProjectedConv2d, FrobeniusLinear)

    def __init__(
        self,
        input_shape: Sequence[int],
        channels: Sequence[int] = (32, 64, 128),
        convs_per_stage: int | Sequence[int] = 2,
        head: str = "flatten",
    ) -> None:
        super().__init__()
        if len(input_shape) != 3:
            raise ValueError(f"input_shape must be (C, H, W), got {tuple(input_shape)}.")
        if any(c % 2 for c in channels):
            raise ValueError(f"Every stage needs an even channel count for GroupSort2, got {tuple(channels)}.")
        counts = [convs_per_stage] * len(channels) if isinstance(convs_per_stage, int) else list(convs_per_stage)
        if len(counts) != len(channels) or min(counts) < 1:
            raise ValueError("convs_per_stage needs one positive count per stage.")
        self.input_shape = tuple(int(d) for d in input_shape)
        size = self.input_shape[1:]
        in_channels = self.input_shape[0]
        layers: list[nn.Module] = []
        for stage, (width, count) in enumerate(zip(channels, counts)):
            if stage > 0:
                layers.append(ScaledAvgPool2d(2))
                size = (size[0] // 2, size[1] // 2)
                if min(size) < 1:
                    raise ValueError(f"{len(channels)} stages pool a {self.input_shape[1:]} input away; use fewer.")
            for _ in range(count):
                layers += [ProjectedConv2d(in_channels, width, 3, (int(size[0]), int(size[1]))), GroupSort(2)]
                in_channels = width
        if head == "global_pool":
            layers += [ScaledGlobalAvgPool2d(size[0] * size[1]), FrobeniusLinear(in_channels, 1)]
        elif head == "flatten":
            layers += [nn.Flatten(), FrobeniusLinear(in_channels * size[0] * size[1], 1)]
        else:
            raise ValueError(f"head must be 'flatten' or 'global_pool', got {head!r}.")
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        check_image_shape(x, self.input_shape)
        return self.layers(x).squeeze(1)

    def lipschitz_bound(self) -> float:
        """Proven l2 Lipschitz constant of ``forward``.

        Proof: ``forward`` composes convolutions
        (each bounded by :func:`~lightning_occ.nn.lipschitz_conv.conv_operator_norm_bound`, biases do
        not change a constant), GroupSort2 (a permutation on each linear piece: 1), scaled average
        pools (1, see :class:`ScaledAvgPool2d`), the head (flatten: an isometry; the scaled global
        pool: 1) and a dense layer
        (its exact spectral norm). Constants multiply under composition.
        """
        return math.prod(layer.lipschitz_bound() for layer in self.constrained_layers())
