"""A gradient-norm-preserving convolutional network (pure torch): orthogonal convolutions for OCSDF.

Spectrally normalised convolutions are 1-Lipschitz but contract: the trained ``conv`` OCSDF had
input-gradient norms of median 0.08, although a signed distance needs 1. Here every layer is
orthogonal (its transpose preserves norms), so gradients keep their norm through the network:

* 3x3 convolutions with circular padding, built by ``orthogonium``'s ``AdaptiveOrthoConv2d`` (BCOP,
  Boissin et al., ICML 2025): explicit kernels from orthogonalised parameters;
* down-sampling by an orthogonal convolution with kernel = stride = 2 (RKO), which maps each 2x2
  patch by one orthogonal matrix;
* GroupSort2 activations and a unit-norm dense head on the flattened features.

The parametrisation only *aims* at orthogonality (a few Björck iterations per forward pass). The
Lipschitz bound is never taken from it: :meth:`OrthoConvNet.lipschitz_bound` recomputes every
layer's exact operator norm from the kernel as it is, in float64. :meth:`OrthoConvNet.export` turns
the network into plain ``nn.Conv2d``/``nn.Linear`` layers with the same outputs, for inference.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, cast

import torch
from torch import Tensor, nn

from lightning_occ.nn.activations import GroupSort
from lightning_occ.nn.lipschitz_conv import check_image_shape, conv_operator_norm_bound
from lightning_occ.nn.orthogonal import FrobeniusLinear, spectral_norm
from lightning_occ.nn.rounding import RoundingStep, affine_step

__all__ = ["OrthoConvNet", "circular_conv_operator_norm", "patch_conv_operator_norm"]

PADDING_MODES = ("circular", "zeros")


def circular_conv_operator_norm(weight: Tensor, grid: tuple[int, int]) -> float:
    """The exact l2 operator norm of a stride-1 circular convolution on an ``H x W`` grid.

    Proof: a circular convolution with ``c_in`` input and ``c_out`` output channels is block
    circulant; the unitary 2-D DFT diagonalises it into one ``c_out x c_in`` block per frequency f,
    ``K_hat(f) = sum_t K[:, :, t] exp(-2 pi i <f, t> / (H, W))`` (the padding offset only multiplies
    each block by a unit phase). So the operator norm is ``max_f ||K_hat(f)||_2``, computed here with
    exact SVDs in float64. On a grid smaller than the kernel, taps that wrap onto the same input are
    summed first (the kernel is folded modulo the grid), which is what the circular padding computes.

    Example:
        >>> identity = torch.zeros(2, 2, 3, 3); identity[0, 0, 1, 1] = identity[1, 1, 1, 1] = 1
        >>> round(circular_conv_operator_norm(identity, (5, 5)), 12)
        1.0
    """
    kernel = weight.detach().to(torch.float64)
    if grid[0] < kernel.shape[2] or grid[1] < kernel.shape[3]:
        folded = kernel.new_zeros(*kernel.shape[:2], *grid)
        for a in range(kernel.shape[2]):
            for b in range(kernel.shape[3]):
                folded[:, :, a % grid[0], b % grid[1]] += kernel[:, :, a, b]
        kernel = folded
    spectrum = torch.fft.fft2(kernel, s=grid).permute(2, 3, 0, 1)
    return float(torch.linalg.matrix_norm(spectrum, ord=2).max())


def patch_conv_operator_norm(weight: Tensor) -> float:
    """The exact l2 operator norm of a convolution with kernel = stride and no padding.

    Proof: the patches it reads are disjoint, and each output position applies the same matrix
    ``M = weight.reshape(c_out, c_in * k * k)`` to one patch, so the operator is block diagonal with
    blocks M (after a permutation of the inputs, an isometry) and its norm is ``||M||_2``.
    """
    return spectral_norm(weight.reshape(weight.shape[0], -1))


def _orthogonal_conv(
    in_channels: int, out_channels: int, kernel_size: int, stride: int, padding_mode: str
) -> nn.Conv2d:
    from orthogonium.layers.conv.AOC import AdaptiveOrthoConv2d

    if stride == 1:
        return AdaptiveOrthoConv2d(in_channels, out_channels, kernel_size, padding="same", padding_mode=padding_mode)
    return AdaptiveOrthoConv2d(in_channels, out_channels, kernel_size, stride=stride, padding=0)


class OrthoConvNet(nn.Module):
    """Stages of orthogonal 3x3 convolutions with GroupSort2, an orthogonal 2x2 stride-2 down-sampling
    between stages, and a unit-norm dense head: ``(N, C, H, W) -> (N,)``, 1-Lipschitz and
    gradient-norm preserving.

    Args:
        input_shape: ``(C, H, W)``; H and W must be divisible by ``2 ** (len(channels) - 1)``.
        channels: channels per stage (even, for GroupSort2). The down-sampling of stage s maps
            ``4 * channels[s - 1]`` patch values to ``channels[s]``; ``channels[s] <= 4 * channels[s - 1]``
            keeps its rows orthonormal (gradient-norm preserving).
        convs_per_stage: 3x3 convolutions per stage, one number or one per stage.
        padding_mode: ``circular`` (orthogonal; bound exact by FFT) or ``zeros`` (1-Lipschitz, not
            orthogonal at the borders; bound by the embedding argument).
        stem: ``conv``: the first stage runs at full resolution, its first convolution widening the
            C input channels to ``channels[0]`` (an isometry whose transpose contracts gradients until
            training aligns them, as in the paper's VGG-like network); ``patches``: every stage, the
            first included, starts with the orthogonal 2x2 down-sampling, so no layer ever widens and,
            with ``channels[0] <= 4 C``, the network is gradient-norm preserving by construction
            (``||grad f|| = 1`` everywhere) at the price of fewer channels.
        vanilla: build plain ``nn.Conv2d`` layers (the exported form) instead of orthogonalised ones.

    Example:
        >>> net = OrthoConvNet((1, 8, 8), channels=(4, 8), convs_per_stage=1)
        >>> net(torch.zeros(2, 1, 8, 8)).shape
        torch.Size([2])
        >>> net.lipschitz_bound() <= 1 + 1e-4
        True
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        channels: Sequence[int] = (16, 64, 128),
        convs_per_stage: int | Sequence[int] = (2, 2, 1),
        padding_mode: str = "circular",
        stem: str = "conv",
        vanilla: bool = False,
    ) -> None:
        super().__init__()
        if len(input_shape) != 3:
            raise ValueError(f"input_shape must be (C, H, W), got {tuple(input_shape)}.")
        if padding_mode not in PADDING_MODES:
            raise ValueError(
                f"padding_mode={padding_mode!r} is not covered by the Lipschitz proof; use one of "
                f"{PADDING_MODES} ('circular' keeps the network orthogonal)."
            )
        if not channels or any(c < 2 or c % 2 for c in channels):
            raise ValueError(f"Every stage needs an even channel count >= 2 for GroupSort2, got {tuple(channels)}.")
        counts = [convs_per_stage] * len(channels) if isinstance(convs_per_stage, int) else list(convs_per_stage)
        if len(counts) != len(channels) or min(counts) < 1:
            raise ValueError(
                f"convs_per_stage needs one positive count per stage ({len(channels)}), got {convs_per_stage}."
            )
        if stem not in ("conv", "patches"):
            raise ValueError(f"stem must be 'conv' or 'patches', got {stem!r}.")
        self.input_shape = tuple(int(d) for d in input_shape)
        self.channels, self.convs_per_stage, self.padding_mode = tuple(channels), tuple(counts), padding_mode
        self.stem = stem
        halvings = len(channels) - (1 if stem == "conv" else 0)
        height, width = self.input_shape[1:]
        if height % 2**halvings or width % 2**halvings:
            raise ValueError(
                f"Images of {height}x{width} cannot be halved {halvings} times by the stride-2 "
                f"down-sampling: use a size divisible by {2**halvings} (resize or crop), or fewer stages."
            )
        layers: list[nn.Module] = []
        self.grids: list[tuple[int, int]] = []  # the input grid of each convolution, for its bound
        in_channels, size = self.input_shape[0], (height, width)
        for stage, (width_s, count) in enumerate(zip(channels, counts)):
            if stage > 0 or stem == "patches":
                layers.append(self._conv(in_channels, width_s, 2, 2, vanilla))
                self.grids.append(size)
                size, in_channels = (size[0] // 2, size[1] // 2), width_s
            for _ in range(count):
                layers += [self._conv(in_channels, width_s, 3, 1, vanilla), GroupSort(2)]
                self.grids.append(size)
                in_channels = width_s
        layers += [nn.Flatten(), FrobeniusLinear(in_channels * size[0] * size[1], 1)]
        self.layers = nn.Sequential(*layers)

    def _conv(self, in_channels: int, out_channels: int, kernel: int, stride: int, vanilla: bool) -> nn.Conv2d:
        if vanilla:
            padding = "same" if stride == 1 else 0
            mode = self.padding_mode if stride == 1 else "zeros"
            return nn.Conv2d(
                in_channels, out_channels, kernel, stride=stride, padding=padding, padding_mode=cast(Any, mode)
            )
        return _orthogonal_conv(in_channels, out_channels, kernel, stride, self.padding_mode)

    def forward(self, x: Tensor) -> Tensor:
        check_image_shape(x, self.input_shape)
        return self.layers(x).squeeze(1)

    def convolutions(self) -> list[nn.Conv2d]:
        return [m for m in self.layers if isinstance(m, nn.Conv2d)]

    def head(self) -> FrobeniusLinear:
        return cast(FrobeniusLinear, self.layers[-1])

    def operator_norms(self) -> list[float]:
        """The exact operator norm of every affine layer (convolutions, then the head), in order."""
        norms = []
        for conv, grid in zip(self.convolutions(), self.grids):
            if conv.stride[0] > 1:
                norms.append(patch_conv_operator_norm(conv.weight))
            elif self.padding_mode == "circular":
                norms.append(circular_conv_operator_norm(conv.weight, grid))
            else:
                norms.append(conv_operator_norm_bound(conv.weight, grid))
        return [*norms, self.head().lipschitz_bound()]

    def lipschitz_bound(self) -> float:
        """Proven l2 Lipschitz constant of ``forward``.

        Proof: ``forward`` composes affine layers (biases do not change a constant) and GroupSort2 and
        flatten (1-Lipschitz: a permutation on each linear piece; an isometry). Stride-1 circular
        convolutions have the exact norm of :func:`circular_conv_operator_norm`, zero-padded ones the
        bound of :func:`~lightning_occ.nn.lipschitz_conv.conv_operator_norm_bound`, the kernel =
        stride down-sampling the exact norm of :func:`patch_conv_operator_norm`, the head its exact
        spectral norm. Constants multiply under composition; all are computed from the weights as
        they are, whatever the parametrisation achieved.
        """
        return math.prod(self.operator_norms())

    def rounding_plan(self) -> list[RoundingStep]:
        """Per affine layer the constants of :func:`~lightning_occ.nn.rounding.network_rounding_bound`
        (GroupSort2 and flatten compute exactly and add nothing)."""
        norms = self.operator_norms()
        convolutions = self.convolutions()
        steps = [
            affine_step(conv, norm, grid[0] * grid[1] // (conv.stride[0] * conv.stride[1]))
            for conv, norm, grid in zip(convolutions, norms, self.grids)
        ]
        return [*steps, affine_step(self.head(), norms[-1])]

    @torch.no_grad()
    def export(self) -> OrthoConvNet:
        """The same network with plain ``nn.Conv2d`` layers holding the current kernels: no
        parametrisation, no orthogonalisation in the forward pass, the same outputs.

        Example:
            >>> net = OrthoConvNet((1, 8, 8), channels=(4, 8), convs_per_stage=1).eval()
            >>> plain = net.export()
            >>> x = torch.rand(3, 1, 8, 8)
            >>> bool(torch.allclose(plain(x), net(x), atol=1e-6))
            True
        """
        plain = OrthoConvNet(
            self.input_shape, self.channels, self.convs_per_stage, self.padding_mode, self.stem, vanilla=True
        )
        for source, target in zip(self.convolutions(), plain.convolutions()):
            target.weight.copy_(source.weight.detach())
            if source.bias is not None and target.bias is not None:
                target.bias.copy_(source.bias.detach())
        plain.head().load_state_dict(self.head().state_dict())
        return plain.to(next(self.parameters()).device).eval()

    def project_(self, tol: float = 1e-6, max_iter: int = 1) -> None:
        """The head's unit norm (the convolutions are orthogonalised by their parametrisation)."""
        self.head().project_(tol, max_iter)
