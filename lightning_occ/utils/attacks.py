"""An l2 PGD attack on anomaly scores: the empirical counterpart of the certified AUROC.

Anomalies are pushed toward lower scores and normal samples toward higher ones, each within an l2
ball of radius eps (and, optionally, inside a box such as [0, 1] pixels). The attacked AUROC is
an upper bound on the true worst-case AUROC, the certified AUROC a lower bound:
``certified <= worst case <= attacked <= clean``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from lightning_occ.metrics.functional import exact_auroc

__all__ = ["PGDSettings", "apgd_attack_scores", "attacked_auroc", "pgd_attack_scores", "strongest_attack_scores"]


@dataclass
class PGDSettings:
    """Settings of :func:`pgd_attack_scores`.

    Args:
        steps: gradient steps per radius.
        step_size: l2 length of a step as a multiple of eps (default 2.5 / steps).
        random_start: start from a uniform point of the ball.
        low, high: an optional box the inputs must stay in, e.g. 0 and 1 for images.
        seed: seed of the random start.
    """

    steps: int = 20
    step_size: float | None = None
    random_start: bool = True
    low: float | None = None
    high: float | None = None
    seed: int = 0


def _per_sample_norm(x: Tensor) -> Tensor:
    return x.flatten(1).norm(dim=1).clamp_min(1e-12).reshape(-1, *([1] * (x.dim() - 1)))


def _random_ball_point(x: Tensor, eps: float, generator: torch.Generator) -> Tensor:
    direction = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    radius = torch.rand(x.shape[0], generator=generator, device=x.device, dtype=x.dtype) ** (1.0 / x[0].numel())
    return direction / _per_sample_norm(direction) * eps * radius.reshape(-1, *([1] * (x.dim() - 1)))


def pgd_attack_scores(
    score_fn: Callable[[Tensor], Tensor], x: Tensor, target: Tensor, eps: float, settings: PGDSettings | None = None
) -> Tensor:
    """The most adversarial scores PGD finds within ``||delta|| <= eps``: lowest for anomalies
    (target 1), highest for normal samples; never less adversarial than the clean score."""
    settings = settings or PGDSettings()
    x = x.detach()
    sign = torch.where(target.bool(), -1.0, 1.0).to(x.device, x.dtype)  # ascend sign * score
    with torch.no_grad():
        best = score_fn(x) * sign
    if eps <= 0:
        return best * sign
    generator = torch.Generator(device=x.device).manual_seed(settings.seed)
    step = eps * (settings.step_size if settings.step_size is not None else 2.5 / settings.steps)
    delta = _random_ball_point(x, eps, generator) if settings.random_start else torch.zeros_like(x)
    if settings.low is not None or settings.high is not None:
        delta = (x + delta).clamp(settings.low, settings.high) - x
    for _ in range(settings.steps):
        delta.requires_grad_(True)
        with torch.enable_grad():
            objective = score_fn(x + delta) * sign
            (grad,) = torch.autograd.grad(objective.sum(), delta)
        with torch.no_grad():
            best = torch.maximum(best, objective.detach())
            delta = delta + step * grad / _per_sample_norm(grad)
            delta = delta * (eps / _per_sample_norm(delta)).clamp(max=1.0)
            if settings.low is not None or settings.high is not None:
                delta = (x + delta).clamp(settings.low, settings.high) - x
    with torch.no_grad():
        best = torch.maximum(best, score_fn(x + delta) * sign)
    return best * sign


def attacked_auroc(
    score_fn: Callable[[Tensor], Tensor],
    x: Tensor,
    target: Tensor,
    epsilons: Sequence[float],
    settings: PGDSettings | None = None,
) -> Tensor:
    """AUROC of the attacked scores at each radius, shape (K,).

    Example:
        >>> x = torch.tensor([[0.0], [1.0], [3.0], [4.0]]); y = torch.tensor([0, 0, 1, 1])
        >>> attacked_auroc(lambda z: z[:, 0], x, y, [0.0, 1.5]).tolist()
        [1.0, 0.5]
    """
    values = [exact_auroc(pgd_attack_scores(score_fn, x, target, eps, settings), target).reshape(1) for eps in epsilons]
    return torch.cat(values)


def _project(delta: Tensor, x: Tensor, eps: float, low: float | None, high: float | None) -> Tensor:
    delta = delta * (eps / _per_sample_norm(delta)).clamp(max=1.0)
    if low is not None or high is not None:
        delta = (x + delta).clamp(low, high) - x  # moves each coordinate toward x: stays in the ball
    return delta


def apgd_attack_scores(
    score_fn: Callable[[Tensor], Tensor],
    x: Tensor,
    target: Tensor,
    eps: float,
    steps: int = 40,
    low: float | None = None,
    high: float | None = None,
    seed: int = 0,
) -> Tensor:
    """APGD-style attack (after Croce & Hein, 2020): momentum 0.75 and a per-sample step that starts at
    2 eps and halves, restarting from the best point, when fewer than 75 % of the steps since the last
    checkpoint improved the objective. Returns the most adversarial scores found (float64).

    Example:
        >>> x = torch.tensor([[0.0], [3.0]]); y = torch.tensor([0, 1])
        >>> apgd_attack_scores(lambda z: z[:, 0], x, y, eps=1.0).tolist()
        [1.0, 2.0]
    """
    sign = torch.where(target.bool(), -1.0, 1.0).to(x.device, torch.float64)
    shape = (-1, *([1] * (x.dim() - 1)))
    x = x.detach()
    with torch.no_grad():
        best = score_fn(x).to(torch.float64) * sign
    if eps <= 0:
        return best * sign
    generator = torch.Generator(device=x.device).manual_seed(seed)
    start = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype) * eps / x[0].numel() ** 0.5
    delta = _project(start, x, eps, low, high)
    best_delta, previous = delta.clone(), delta.clone()
    step = torch.full((x.shape[0],), 2.0 * eps, dtype=x.dtype, device=x.device)
    interval, improved = max(3, steps // 8), torch.zeros(x.shape[0], device=x.device)
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
            direction = grad / _per_sample_norm(grad)
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


def strongest_attack_scores(
    score_fn: Callable[[Tensor], Tensor],
    x: Tensor,
    target: Tensor,
    eps: float,
    restarts: int = 3,
    steps: int = 30,
    low: float | None = None,
    high: float | None = None,
) -> Tensor:
    """Per sample, the most adversarial score of PGD with ``restarts`` random starts and one APGD run."""
    sign = torch.where(target.bool(), -1.0, 1.0).to(x.device, torch.float64)
    runs = [
        pgd_attack_scores(score_fn, x, target, eps, PGDSettings(steps=steps, seed=r, low=low, high=high))
        for r in range(restarts)
    ]
    runs.append(apgd_attack_scores(score_fn, x, target, eps, steps=steps, low=low, high=high))
    stacked = torch.stack([r.to(torch.float64) * sign for r in runs])
    return stacked.max(0).values * sign
