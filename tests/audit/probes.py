"""The audit's adversary: strong l2 attacks on scores and float64 estimates of Lipschitz constants.

Everything here attacks ``detector.certified_scores`` (the function the certificate is about).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from lightning_occ.attacks import PGDSettings, pgd_attack_scores
from lightning_occ.metrics.functional import certified_auroc

ScoreFn = Callable[[Tensor], Tensor]


def _project(delta: Tensor, x: Tensor, eps: float, low: float | None, high: float | None) -> Tensor:
    norms = delta.flatten(1).norm(dim=1).clamp_min(1e-12).reshape(-1, *([1] * (x.dim() - 1)))
    delta = delta * (eps / norms).clamp(max=1.0)
    if low is not None or high is not None:
        delta = (x + delta).clamp(low, high) - x  # moves each coordinate toward x: stays in the ball
    return delta


def apgd_scores(score_fn: ScoreFn, x: Tensor, target: Tensor, eps: float, steps: int = 40,
                low: float | None = None, high: float | None = None, seed: int = 0) -> Tensor:
    """APGD-style attack (Croce & Hein, 2020): momentum 0.75, a per-sample step that starts at 2 eps
    and halves (restarting from the best point) when fewer than 75 % of the steps since the last
    checkpoint improved the objective. Returns the most adversarial scores found."""
    sign = torch.where(target.bool(), -1.0, 1.0).to(x.device, torch.float64)
    shape = (-1, *([1] * (x.dim() - 1)))
    x = x.detach()
    with torch.no_grad():
        best = score_fn(x).to(torch.float64) * sign
    generator = torch.Generator(device=x.device).manual_seed(seed)
    delta = _project(torch.randn(x.shape, generator=generator, dtype=x.dtype) * eps / x[0].numel() ** 0.5,
                     x, eps, low, high)
    best_delta, previous = delta.clone(), delta.clone()
    step = torch.full((x.shape[0],), 2.0 * eps, dtype=x.dtype)
    interval, improved = max(3, steps // 8), torch.zeros(x.shape[0])
    for i in range(steps):
        delta.requires_grad_(True)
        with torch.enable_grad():
            objective = score_fn(x + delta).to(torch.float64) * sign
            (grad,) = torch.autograd.grad(objective.sum(), delta)
        with torch.no_grad():
            better = objective > best
            improved += better.float()
            best = torch.where(better, objective, best)
            best_delta = torch.where(better.reshape(shape), delta, best_delta)
            direction = grad / grad.flatten(1).norm(dim=1).clamp_min(1e-30).reshape(shape)
            candidate = _project(delta + step.reshape(shape) * direction, x, eps, low, high)
            if i > 0:
                candidate = _project(delta + 0.75 * (candidate - delta) + 0.25 * (delta - previous), x, eps, low, high)
            previous, delta = delta.detach(), candidate
            if (i + 1) % interval == 0:
                halve = improved < 0.75 * interval
                step = torch.where(halve, step / 2, step)
                delta = torch.where(halve.reshape(shape), best_delta, delta)
                improved.zero_()
    with torch.no_grad():
        best = torch.maximum(best, score_fn(x + delta).to(torch.float64) * sign)
    return best * sign


def strongest_attack_scores(score_fn: ScoreFn, x: Tensor, target: Tensor, eps: float, restarts: int = 3,
                            steps: int = 30, low: float | None = None, high: float | None = None) -> Tensor:
    """Per sample, the most adversarial of PGD with ``restarts`` random starts and one APGD run."""
    sign = torch.where(target.bool(), -1.0, 1.0).to(torch.float64)
    runs = [pgd_attack_scores(score_fn, x, target, eps, PGDSettings(steps=steps, seed=r, low=low, high=high))
            for r in range(restarts)]
    runs.append(apgd_scores(score_fn, x, target, eps, steps=steps, low=low, high=high))
    stacked = torch.stack([r.to(torch.float64) * sign for r in runs])
    return stacked.max(0).values * sign


def attacked_auroc(score_fn: ScoreFn, x: Tensor, target: Tensor, eps: float, **options: object) -> float:
    attacked = strongest_attack_scores(score_fn, x, target, eps, **options)
    return float(certified_auroc(attacked, target, [0.0], lipschitz=0.0)[0])


def largest_gradient_norm(score_fn: ScoreFn, points: Tensor) -> float:
    """max ||grad s(x)|| over the given points (float64)."""
    z = points.detach().to(torch.float64).requires_grad_(True)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(score_fn(z).sum(), z)
    return float(grad.flatten(1).norm(dim=1).max())


def optimised_pair_slopes(score_fn: ScoreFn, points: Tensor, steps: int = 60, spread: float = 0.05,
                          lr: float = 0.01, seed: int = 0) -> tuple[Tensor, Tensor, Tensor]:
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


def tiny_pair_excess(score_and_error: Callable[[Tensor], tuple[Tensor, Tensor]], centres: Tensor, bound: float,
                     scales: Tensor | None = None, seed: int = 0) -> Tensor:
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
