"""How tight a Lipschitz certificate is in practice: input-gradient norms of the certified score.

A certificate with constant L is tight where the score's input gradient has norm close to L (the
score can really move that fast) and loose where it is much smaller. A gradient-norm-preserving
OCSDF should have norms near 1 almost everywhere; a contracting network has norms far below its
bound, and its certified AUROC falls much faster than any attack can make it fall.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

__all__ = ["gradient_norm_summary", "input_gradient_norms"]


def input_gradient_norms(score_fn: Callable[[Tensor], Tensor], x: Tensor, chunk_size: int = 256) -> Tensor:
    """``||grad_x s(x)||_2`` for every input, shape (N,), in chunks.

    Example:
        >>> input_gradient_norms(lambda z: 3 * z.sum(1), torch.zeros(2, 4))
        tensor([6., 6.])
    """
    norms = []
    with torch.inference_mode(False), torch.enable_grad():
        for chunk in x.split(chunk_size):
            z = chunk.detach().clone().requires_grad_(True)
            (grad,) = torch.autograd.grad(score_fn(z).sum(), z)
            norms.append(grad.flatten(1).norm(dim=1).detach())
    return torch.cat(norms) if norms else x.new_zeros(0)


def gradient_norm_summary(detector: Any, x: Tensor, limit: int = 2000) -> dict[str, float]:
    """Median, minimum and maximum input-gradient norm of the certified score on (up to ``limit`` of)
    ``x``, next to the Lipschitz bound: ``{"median", "min", "max", "lipschitz_bound"}``.

    Args:
        detector: an :class:`~lightning_occ.core.detector.AnomalyDetector` with a Lipschitz bound.
        x: inputs, e.g. the test split.
        limit: the most inputs to use.
    """
    bound = getattr(detector, "lipschitz_bound", None)
    if bound is None:
        raise ValueError(f"{type(detector).__name__} has no Lipschitz bound: gradient norms say nothing about it.")
    norms = input_gradient_norms(detector.attacked_score, x[:limit].to(detector.device))
    return {
        "median": float(norms.median()),
        "min": float(norms.min()),
        "max": float(norms.max()),
        "lipschitz_bound": float(bound),
    }
