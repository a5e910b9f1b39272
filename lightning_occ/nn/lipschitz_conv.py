"""1-Lipschitz convolutional building blocks with a proven operator-norm bound (pure torch).

``torch.nn.utils.spectral_norm`` on a convolution normalises the reshaped kernel, which does NOT
bound the convolution's operator norm (it can be off by up to the kernel's spatial size). Here the
bound is the exact spectral norm of the *circular* convolution on a grid large enough to contain
the zero-padded one, computed from the kernel's Fourier transform (Sedghi, Gupta & Long, 2019).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "ProjectedConv2d",
    "ScaledAvgPool2d",
    "ScaledGlobalAvgPool2d",
    "check_image_shape",
    "conv_operator_norm_bound",
]


def check_image_shape(x: Tensor, expected: tuple[int, ...]) -> None:
    """Raise a clear error unless ``x`` is a batch of ``expected = (C, H, W)`` images."""
    if tuple(x.shape[1:]) != expected:
        raise ValueError(
            f"This network takes images of shape {expected} (C, H, W), got {tuple(x.shape[1:])}"
            + (": grayscale vs RGB?" if x.dim() == 4 and x.shape[1] != expected[0] else ".")
        )


def circular_grid(kernel_size: tuple[int, int], input_size: tuple[int, int]) -> tuple[int, int]:
    """The smallest circular grid on which the zero-padded 'same' convolution embeds: ``H + k // 2``."""
    return input_size[0] + kernel_size[0] // 2, input_size[1] + kernel_size[1] // 2


def conv_operator_norm_bound(weight: Tensor, input_size: tuple[int, int]) -> float:
    """A proven upper bound on the l2 operator norm of ``conv2d(x, weight, stride=1, padding=k//2)``.

    Proof: let the input be ``H x W``, the kernel ``(2p + 1) x (2q + 1)``, and ``M = (H + p, W + q)``.
    Embedding x into an M-grid of zeros is an isometry E. Output ``i`` of the zero-padded
    convolution reads inputs ``i - p .. i + p``; on the M-grid the circular convolution C reads the
    same indices modulo M, and those outside ``[0, H)`` land in ``[H, H + p)`` or, wrapped, in
    ``[M - p, M) = [H, H + p)``: the zero border, never x. So on the ``H x W`` output window C agrees
    with the zero-padded convolution, and cropping P has norm <= 1.
    So ``conv = P C E`` and ``||conv|| <= ||C||``. The 2-D DFT is unitary and diagonalises C into
    one ``c_out x c_in`` block per frequency, ``K_hat(f) = sum_t K[:, :, t] exp(-2 pi i <f, t> / M)``,
    hence ``||C|| = max_f ||K_hat(f)||_2`` — computed here in float64 with exact SVDs.

    Example:
        >>> identity = torch.zeros(2, 2, 3, 3); identity[0, 0, 1, 1] = identity[1, 1, 1, 1] = 1
        >>> round(conv_operator_norm_bound(identity, (5, 5)), 6)
        1.0
    """
    grid = circular_grid((int(weight.shape[-2]), int(weight.shape[-1])), input_size)
    spectrum = torch.fft.fft2(weight.detach().to(torch.float64), s=grid)  # (c_out, c_in, M1, M2)
    blocks = spectrum.permute(2, 3, 0, 1)
    return float(torch.linalg.matrix_norm(blocks, ord=2).max())


class ProjectedConv2d(nn.Conv2d):
    """Stride-1 'same' convolution kept at operator norm ~1 by rescaling after optimiser steps.

    The forward pass is a plain convolution. :meth:`project_` divides the kernel by a warm-started
    power-iteration estimate of the norm behind :func:`conv_operator_norm_bound` (cheap) or, with
    ``max_iter > 1``, by that proven bound itself (the layer is then 1-Lipschitz up to round-off).
    :meth:`lipschitz_bound` never trusts the projection: it recomputes
    the proven bound from the kernel as it is.

    Args:
        in_channels, out_channels, kernel_size: as in ``nn.Conv2d`` (odd kernel sizes).
        input_size: the spatial size ``(H, W)`` the layer sees (the bound depends on it).
    """

    power_vector: Tensor

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, input_size: tuple[int, int]) -> None:
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd for 'same' padding, got {kernel_size}.")
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.output_positions = self.input_size[0] * self.input_size[1]  # stride 1, 'same' padding
        self.grid = circular_grid((kernel_size, kernel_size), self.input_size)
        self.register_buffer("power_vector", torch.randn(1, in_channels, *self.grid))
        self.estimate_norm_(iterations=10)  # warm start for the per-step projections
        self.project_(max_iter=30)  # proven: a fresh layer is 1-Lipschitz

    def _circular(self, x: Tensor, weight: Tensor) -> Tensor:
        p = self.kernel_size[0] // 2
        return F.conv2d(F.pad(x, (p, p, p, p), mode="circular"), weight)

    @torch.no_grad()
    def estimate_norm_(self, iterations: int = 1) -> float:
        """Warm-started power iteration on ``C^T C``, C the circular convolution whose norm is the bound.

        Converges from below to :func:`conv_operator_norm_bound`, so the cheap per-step projection
        and the final proven one agree up to the iteration's residual.
        """
        adjoint = self.weight.transpose(0, 1).flip(-1, -2)
        u = self.power_vector
        for _ in range(iterations):
            u = self._circular(self._circular(u, self.weight), adjoint)
            u = u / u.norm().clamp_min(1e-12)
        self.power_vector.copy_(u)
        return float(self._circular(u, self.weight).norm())

    @torch.no_grad()
    def project_(self, tol: float = 0.0, max_iter: int = 1, iterations: int = 2) -> None:
        """Rescale the kernel to norm ~1: estimated (``max_iter == 1``) or proven (``max_iter > 1``)."""
        norm = (
            conv_operator_norm_bound(self.weight, self.input_size) if max_iter > 1 else self.estimate_norm_(iterations)
        )
        self.weight.div_(max(norm, 1e-12))

    def lipschitz_bound(self) -> float:
        return conv_operator_norm_bound(self.weight, self.input_size)


class ScaledAvgPool2d(nn.Module):
    """``k x k`` average pooling (stride k) times k: 1-Lipschitz in l2.

    Proof: each output is the mean of k^2 inputs in disjoint windows, ``||mean||_2 = k / k^2 = 1/k``
    per window; windows are disjoint, so the operator norm is ``1/k`` and the scaled map has norm 1.
    """

    def __init__(self, kernel_size: int = 2) -> None:
        super().__init__()
        self.kernel_size = kernel_size

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(x, self.kernel_size) * self.kernel_size

    def rounding_terms(self) -> tuple[float, int]:
        """(operator norm, window size) for :func:`lightning_occ.nn.rounding.network_rounding_bound`."""
        return 1.0, self.kernel_size**2


class ScaledGlobalAvgPool2d(nn.Module):
    """Mean over the ``H x W`` positions times ``sqrt(H W)``: (N, C, H, W) -> (N, C), 1-Lipschitz.

    Proof: per channel, the mean of n = HW values has norm ``sqrt(n) / n``; scaled by sqrt(n), 1.

    Args:
        positions: ``H * W`` of the inputs, when known (needed only for the rounding bound).
    """

    def __init__(self, positions: int | None = None) -> None:
        super().__init__()
        self.positions = positions

    def rounding_terms(self) -> tuple[float, int]:
        """(operator norm, window size); the stored ``sqrt(n)`` may exceed the true one by one rounding."""
        if self.positions is None:
            raise TypeError("ScaledGlobalAvgPool2d needs `positions` (H * W) for its rounding bound.")
        return 1.0 + 2.0**-52, self.positions

    def forward(self, x: Tensor) -> Tensor:
        return x.mean(dim=(2, 3)) * math.sqrt(x.shape[2] * x.shape[3])
