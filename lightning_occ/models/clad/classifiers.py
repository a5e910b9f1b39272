"""Image classifiers from timm by name, with a stem suited to small (8 to 64 pixel) images."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

import timm
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["ResizedInput", "create_classifier"]

SMALL_IMAGE_SIZE = 64


class ResizedInput(nn.Module):
    """A network that sees its input images resized (bilinear, antialiased) to ``size`` x ``size``.

    The resize is differentiable, so input gradients (ODIN, attacks) reach the original pixels.
    """

    def __init__(self, network: nn.Module, size: int) -> None:
        super().__init__()
        self.network = network
        self.size = size

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-2:] != (self.size, self.size):
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=True)
        return self.network(x)


def create_classifier(
    name: str, num_classes: int, input_shape: Sequence[int], input_size: int | None = None, **kwargs: Any
) -> nn.Module:
    """``timm.create_model(name)`` (random init) for ``num_classes`` classes on ``input_shape`` images.

    For images of at most 64 pixels, a ResNet-style stem (7x7 stride-2 ``conv1`` and ``maxpool``,
    which would shrink a 32 px image 4x before the first block) is replaced by one 3x3 stride-1
    convolution, as in the CIFAR ResNets; a deep stem keeps its convolutions without their stride.
    With ``input_size``, the network is built for, and fed, images resized to that many pixels a
    side (:class:`ResizedInput`): an 8 px image otherwise reaches a ResNet's last stage as 1 x 1.

    Raises:
        ValueError: ``name`` is not a timm model (the message suggests close names), or
            ``input_size`` is not positive.

    Example:
        >>> import torch
        >>> net = create_classifier("resnet18", num_classes=3, input_shape=(1, 8, 8))
        >>> net(torch.rand(2, 1, 8, 8)).shape, type(net.maxpool).__name__
        (torch.Size([2, 3]), 'Identity')
    """
    if not timm.is_model(name):
        close = difflib.get_close_matches(name, timm.list_models(), n=5, cutoff=0.6)
        hint = f" Did you mean one of {close}?" if close else " See timm.list_models() for the names."
        raise ValueError(f"timm has no model named {name!r}.{hint}")
    if input_size is not None and input_size < 1:
        raise ValueError(
            f"input_size must be a positive number of pixels (or None to keep the images' size), got {input_size}."
        )
    channels, height, width = (int(d) for d in input_shape)
    if input_size is not None:
        height = width = input_size
    model = timm.create_model(name, pretrained=False, num_classes=num_classes, in_chans=channels, **kwargs)
    if max(height, width) <= SMALL_IMAGE_SIZE:
        _use_small_image_stem(model, channels)
    return model if input_size is None else ResizedInput(model, input_size)


def _use_small_image_stem(model: nn.Module, channels: int) -> None:
    """ResNet-style stems only (``conv1`` + ``maxpool``); other architectures are left as timm builds them."""
    conv1 = getattr(model, "conv1", None)
    if conv1 is None or not hasattr(model, "maxpool"):
        return
    if isinstance(conv1, nn.Conv2d):
        model.conv1 = nn.Conv2d(channels, conv1.out_channels, kernel_size=3, stride=1, padding=1, bias=False)
    else:  # a deep stem (timm's resnet*t, *d): keep its convolutions, drop their stride
        for layer in conv1.modules():
            if isinstance(layer, nn.Conv2d):
                layer.stride = (1, 1)
    model.maxpool = nn.Identity()
