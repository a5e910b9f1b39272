"""The audit's adversary: strong l2 attacks on scores and float64 estimates of Lipschitz constants.

Everything here attacks ``detector.certified_scores`` (the function the certificate is about).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from lightning_occ.metrics.functional import exact_auroc
from lightning_occ.utils.attacks import strongest_attack_scores

ScoreFn = Callable[[Tensor], Tensor]


def attacked_auroc(score_fn: ScoreFn, x: Tensor, target: Tensor, eps: float, **options: object) -> float:
    attacked = strongest_attack_scores(score_fn, x, target, eps, **options)
    return float(exact_auroc(attacked, target))


def largest_gradient_norm(score_fn: ScoreFn, points: Tensor) -> float:
    """max ||grad s(x)|| over the given points (float64)."""
    z = points.detach().to(torch.float64).requires_grad_(True)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(score_fn(z).sum(), z)
    return float(grad.flatten(1).norm(dim=1).max())


def optimised_pair_slopes(
    score_fn: ScoreFn, points: Tensor, steps: int = 60, spread: float = 0.05, lr: float = 0.01, seed: int = 0
) -> tuple[Tensor, Tensor, Tensor]:
    """Pairs (x, y) started around ``points`` and moved by Adam to maximise ``|s(x) - s(y)| / ||x - y||``
    (float64). Returns the final pairs and their slopes."""
    generator = torch.Generator().manual_seed(seed)
    x = points.detach().to(torch.float64).clone()
    y = x + spread * torch.randn(x.shape, generator=generator, dtype=torch.float64)
    x.requires_grad_(True)
    y.requires_grad_(True)
    optimiser = torch.optim.Adam([x, y], lr=lr)

    def slopes() -> Tensor:
        distance = (x - y).flatten(1).norm(dim=1).clamp_min(1e-4)
        return (score_fn(x) - score_fn(y)).abs() / distance

    for _ in range(steps):
        optimiser.zero_grad()
        with torch.enable_grad():
            (-slopes().sum()).backward()
        optimiser.step()
    with torch.no_grad():
        return x.detach(), y.detach(), slopes()


def lipschitz_estimate(score_fn: ScoreFn, points: Tensor, **options: object) -> float:
    """The largest slope seen: input-gradient norms at ``points`` and optimised pairs around them."""
    _, _, pair_slopes = optimised_pair_slopes(score_fn, points, **options)
    return max(largest_gradient_norm(score_fn, points), float(pair_slopes.max()))


def tiny_pair_excess(
    score_and_error: Callable[[Tensor], tuple[Tensor, Tensor]],
    centres: Tensor,
    bound: float,
    scales: Tensor | None = None,
    seed: int = 0,
) -> Tensor:
    """``|s(x) - s(y)| - (L ||x - y|| + e(x) + e(y))`` for pairs 1e-4 .. 1e-1 apart around ``centres``
    (x a tiny step off a centre, y a further step): positive entries are violations of the certificate."""
    generator = torch.Generator().manual_seed(seed)
    scales = scales if scales is not None else torch.logspace(-4, -1, 7, dtype=torch.float64)
    rows = []
    for scale in scales.tolist():
        x = centres + 1e-3 * scale * torch.randn(centres.shape, generator=generator, dtype=centres.dtype)
        y = x + scale * torch.randn(centres.shape, generator=generator, dtype=centres.dtype) / centres[0].numel() ** 0.5
        with torch.no_grad():
            sx, ex = score_and_error(x)
            sy, ey = score_and_error(y)
        distance = (x.to(torch.float64) - y.to(torch.float64)).flatten(1).norm(dim=1)
        rows.append((sx.to(torch.float64) - sy.to(torch.float64)).abs() - (bound * distance + ex + ey))
    return torch.cat(rows)
