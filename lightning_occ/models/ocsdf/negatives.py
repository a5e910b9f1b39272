"""Negative samples for OCSDF: a simple initial distribution refined by Newton-Raphson steps.

Béthune et al. (2023): draw ``z ~ Q0`` and move each point toward the level set ``f = level`` of
the current network, ``z <- z + (step_scale / T) * eta * relu(level - f(z)) * grad f(z) /
(||grad f(z)||^2 + 1e-8)``, with one step factor ``eta ~ U[0, 1]`` per point, clipped to the domain
box. The relu freezes points that already reached the level set. Negatives are drawn anew for
every batch; there are no persistent chains.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn
from tqdm.auto import trange

__all__ = ["frozen_parameters", "initial_negatives", "newton_raphson_negatives"]


@contextmanager
def frozen_parameters(module: nn.Module) -> Iterator[None]:
    """Temporarily stop tracking parameter gradients (input gradients only) and switch to eval mode;
    parametrised weights (orthogonal convolutions) are computed once for the whole block."""
    flags = [(p, p.requires_grad) for p in module.parameters()]
    was_training = module.training
    for p, _ in flags:
        p.requires_grad_(False)
    module.eval()
    try:
        with torch.nn.utils.parametrize.cached():
            yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
        module.train(was_training)


def initial_negatives(
    n: int, std: Tensor | None, low: float, high: float, shape: tuple[int, ...], device: torch.device
) -> Tensor:
    """Q0: Gaussian ``N(0, std^2)`` per feature when ``std`` is given, else uniform in the box; clipped."""
    if std is not None:
        return (torch.randn((n, *shape), device=device) * std).clamp_(low, high)
    return torch.empty((n, *shape), device=device).uniform_(low, high)


def newton_raphson_negatives(
    f: Callable[[Tensor], Tensor],
    z: Tensor,
    steps: int,
    step_scale: float = 1.0,
    level: float = 0.0,
    low: float = float("-inf"),
    high: float = float("inf"),
    eta: Tensor | None = None,
    progress: bool = False,
) -> Tensor:
    """Run ``steps`` Newton-Raphson steps of ``z`` toward ``{f = level}`` (see module docstring).

    Args:
        f: the network, (N, ...) -> (N,). Its parameters should be frozen by the caller.
        z: starting points.
        steps: T; 0 returns ``z`` unchanged.
        step_scale: the step multiplier (``eta_mult``).
        level: the target level set (``-margin`` for images, 0 for tabular data).
        low, high: the domain box.
        eta: per-sample step factors in [0, 1]; drawn uniformly when None, all ones for the
            deterministic "boundary dreams".
        progress: show a progress bar over the steps (long runs such as boundary samples).

    Returns:
        The moved points, detached.
    """
    z = z.detach()
    if steps == 0:
        return z
    if eta is None:
        eta = torch.rand(z.shape[0], device=z.device)
    eta = eta.reshape(-1, *([1] * (z.dim() - 1))) * (step_scale / steps)
    for _ in trange(steps, desc="boundary samples", unit="step", disable=not progress, leave=False):
        z.requires_grad_(True)
        with torch.enable_grad():
            value = f(z)
            (grad,) = torch.autograd.grad(value.sum(), z)
        with torch.no_grad():
            gap = torch.relu(level - value).reshape(eta.shape[0], *([1] * (z.dim() - 1)))
            squared_norm = grad.flatten(1).pow(2).sum(1).reshape_as(gap)
            z = (z + eta * gap * grad / (squared_norm + 1e-8)).clamp_(low, high)
    return z.detach()
