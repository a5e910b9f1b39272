"""Functional certified AUROC: the worst-case AUROC when every input may move by eps.

Two ways to know how far a score can move under an l2 perturbation of radius eps:

* **Lipschitz mode** - the score is L-Lipschitz, so it moves by at most ``L * eps``. The adversary
  lowers every anomaly's score and raises every normal's: anomalies are ranked at
  ``score - L * eps`` and normals at ``score + L * eps``.
* **Interval mode** - a certifier (e.g. percentile smoothing) gives per-sample bounds
  ``lower[i, k] <= score(x_i + delta) <= upper[i, k]`` for ``||delta|| <= eps_k``; anomalies are
  ranked at their lower bound, normals at their upper bound.

Both are the minimum of the AUROC over all admissible perturbations, because the AUROC is
monotone in each score. The AUROC is exact (Mann-Whitney statistic, ties count 1/2) and is
computed with sorting and binary search - no pair loop and no sigmoid.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = ["certified_auroc", "check_binary_target", "exact_auroc", "pairwise_auroc"]


def _as_epsilons(epsilons: Sequence[float] | Tensor | float) -> Tensor:
    eps = torch.as_tensor(epsilons, dtype=torch.float64).reshape(-1)
    if eps.numel() == 0:
        raise ValueError("`epsilons` is empty: give at least one radius, e.g. [0.0, 0.25, 0.5].")
    if not torch.isfinite(eps).all() or (eps < 0).any():
        raise ValueError(
            f"Every radius eps must be a finite number >= 0, got {eps.tolist()}. "
            "A radius is the l2 norm of the input perturbation."
        )
    return eps


def _check_scores_and_target(scores: Tensor, target: Tensor) -> Tensor:
    if scores.ndim != 1 or target.ndim != 1 or scores.shape != target.shape:
        raise ValueError(
            f"`scores` and `target` must be 1-D tensors of the same length, got shapes "
            f"{tuple(scores.shape)} and {tuple(target.shape)}."
        )
    if not torch.isfinite(scores).all():
        bad = torch.nonzero(~torch.isfinite(scores)).flatten()[:10].tolist()
        raise ValueError(f"`scores` contains NaN or inf at positions {bad} (first ten shown).")
    check_binary_target(target)
    target = target.long()
    n_anomalies = int(target.sum())
    if n_anomalies == 0 or n_anomalies == target.numel():
        present = "anomalies" if n_anomalies else "normal samples"
        raise ValueError(
            f"AUROC needs both classes, but the evaluation set holds only {present} "
            f"({target.numel()} samples). Evaluate on data with normal (0) and anomalous (1) samples."
        )
    return target.bool()


def check_binary_target(target: Tensor) -> None:
    """Raise unless every label is exactly 0 (normal) or 1 (anomaly); checked before any cast, so
    ``0.7`` or ``True``-like floats are refused instead of truncated.

    Example:
        >>> check_binary_target(torch.tensor([0.0, 0.7, 1.0]))
        Traceback (most recent call last):
        ...
        ValueError: `target` must hold 0 (normal) and 1 (anomaly) only; found 0.7 (first bad value shown).
    """
    bad = (target != 0) & (target != 1)
    if bool(bad.any()):
        value = target[bad][0].item()
        raise ValueError(
            f"`target` must hold 0 (normal) and 1 (anomaly) only; found {value:g} (first bad value shown)."
        )


def _sorted_pair_wins(anomalies: Any, normals: Any, shift: float) -> float:
    """Pairs with ``anomaly - shift > normal + shift`` plus half the ties; both inputs sorted.

    Works on numpy arrays and torch tensors alike. One binary search per anomaly; a second search
    only for the anomalies that tie with some normal (rare for continuous scores).
    """
    lib = np if isinstance(anomalies, np.ndarray) else torch
    queries = anomalies - shift
    haystack = normals + shift
    below = lib.searchsorted(haystack, queries, side="left")
    tied = haystack[below.clip(max=haystack.shape[0] - 1)] == queries
    wins = float(below.sum())
    if bool(tied.any()):
        tie_queries = queries[tied]
        equal = lib.searchsorted(haystack, tie_queries, side="right") - below[tied]
        wins += float(equal.sum()) / 2
    return wins


def pairwise_auroc(anomaly_scores: Tensor, normal_scores: Tensor, shifts: Sequence[float] = (0.0,)) -> Tensor:
    """Exact AUROC of ``anomaly - shift`` against ``normal + shift`` for each shift.

    AUROC = P(anomaly score > normal score) + 1/2 P(equal) (the Mann-Whitney statistic). Cost: two
    sorts, then one binary search of the anomalies into the normals per shift.

    Args:
        anomaly_scores: scores of the anomalies, shape (P,).
        normal_scores: scores of the normal samples, shape (Q,).
        shifts: how much every anomaly score is lowered and every normal score raised.

    Returns:
        Float64 tensor of shape (len(shifts),), on the inputs' device.

    Example:
        >>> import torch
        >>> pairwise_auroc(torch.tensor([3.0, 1.0]), torch.tensor([1.0, 0.0]))
        tensor([0.8750], dtype=torch.float64)
    """
    device = anomaly_scores.device
    pairs = anomaly_scores.numel() * normal_scores.numel()
    if device.type == "cpu":
        # On CPU numpy's SIMD sort and its binary search (which exploits sorted queries) are about
        # ten times faster than torch's; the threads run one shift each (numpy releases the GIL).
        anomalies: Any = np.sort(anomaly_scores.detach().to(torch.float64).numpy())
        normals: Any = np.sort(normal_scores.detach().to(torch.float64).numpy())
    else:
        anomalies = torch.sort(anomaly_scores.detach().to(torch.float64)).values
        normals = torch.sort(normal_scores.detach().to(torch.float64)).values
    shifts = [float(s) for s in shifts]
    if device.type == "cpu" and len(shifts) > 1:
        workers = min(len(shifts), max(1, torch.get_num_threads()))
        with ThreadPoolExecutor(workers) as pool:
            wins = list(pool.map(lambda s: _sorted_pair_wins(anomalies, normals, s), shifts))
    else:
        wins = [_sorted_pair_wins(anomalies, normals, s) for s in shifts]
    return torch.tensor(wins, dtype=torch.float64, device=device) / pairs


def exact_auroc(scores: Tensor, target: Tensor) -> Tensor:
    """The AUROC of anomaly scores as they are (no sigmoid, no binning): a float64 scalar.

    Example:
        >>> exact_auroc(torch.tensor([0.1, 0.4, 0.35, 0.8]), torch.tensor([0, 0, 1, 1]))
        tensor(0.7500, dtype=torch.float64)
    """
    is_anomaly = _check_scores_and_target(scores.detach(), target)
    values = scores.detach().to(torch.float64)
    return pairwise_auroc(values[is_anomaly], values[~is_anomaly])[0]


def certified_auroc(
    scores: Tensor | None,
    target: Tensor,
    epsilons: Sequence[float] | Tensor | float,
    *,
    lipschitz: float | None = None,
    lower: Tensor | None = None,
    upper: Tensor | None = None,
    score_error: Tensor | float | None = None,
) -> Tensor:
    """Certified (worst-case) AUROC at each radius in ``epsilons``.

    Label convention: ``target`` 1 = anomaly, 0 = normal; a higher score means more anomalous.

    Args:
        scores: anomaly scores, shape (N,). Required in Lipschitz mode; ignored in interval mode.
        target: labels, shape (N,).
        epsilons: radii eps_1..eps_K (l2 norms in the model's input units), each >= 0.
        lipschitz: a proven l2 Lipschitz constant L of the score (Lipschitz mode).
        lower: certified lower bounds, shape (N, K), column k valid for radius ``epsilons[k]``
            (interval mode).
        upper: certified upper bounds, shape (N, K) (interval mode).
        score_error: Lipschitz mode: a proven bound on each computed score's rounding error over
            the ball of the largest radius (shape (N,) or one number; see
            :mod:`lightning_occ.nn.rounding`). At every eps > 0 anomalies are ranked at
            ``score - L eps - 2 e`` and normals at ``score + L eps + 2 e``; eps = 0 is the plain AUROC.

    Returns:
        Float64 tensor of shape (K,): the certified AUROC at each radius. At eps = 0 in
        Lipschitz mode it equals the ordinary AUROC (``sklearn.metrics.roc_auc_score``).

    Raises:
        ValueError: on a negative radius, NaN scores, a single-class target, inconsistent shapes,
            or when neither or both modes are requested.

    Example:
        >>> import torch
        >>> scores = torch.tensor([0.1, 0.4, 0.35, 0.8])
        >>> target = torch.tensor([0, 0, 1, 1])
        >>> certified_auroc(scores, target, [0.0, 0.15, 1.0], lipschitz=1.0)
        tensor([0.7500, 0.5000, 0.0000], dtype=torch.float64)
    """
    eps = _as_epsilons(epsilons)
    interval_mode = lower is not None or upper is not None
    if interval_mode and lipschitz is not None:
        raise ValueError("Give either `lipschitz` (Lipschitz mode) or `lower`/`upper` (interval mode), not both.")
    if interval_mode:
        return _interval_certified_auroc(target, eps, lower, upper)
    if lipschitz is None:
        raise ValueError(
            "A certified AUROC needs either `lipschitz` (a proven Lipschitz constant of the score) or "
            "per-sample `lower`/`upper` bounds from a certifier (see lightning_occ.certify)."
        )
    if not (lipschitz >= 0 and torch.isfinite(torch.tensor(float(lipschitz)))):
        raise ValueError(f"`lipschitz` must be a finite number >= 0, got {lipschitz}.")
    if scores is None:
        raise ValueError("Lipschitz mode needs `scores`.")
    is_anomaly = _check_scores_and_target(scores.detach(), target)
    values = scores.detach().to(torch.float64)
    shifts = (eps * float(lipschitz)).tolist()
    if score_error is None:
        return pairwise_auroc(values[is_anomaly], values[~is_anomaly], shifts)
    error = torch.as_tensor(score_error, dtype=torch.float64, device=values.device).expand_as(values)
    if not torch.isfinite(error).all() or (error < 0).any():
        raise ValueError("`score_error` must be finite and >= 0: a bound on each score's rounding error.")
    clean = eps == 0
    result = torch.empty(eps.numel(), dtype=torch.float64, device=values.device)
    if clean.any():
        result[clean] = pairwise_auroc(values[is_anomaly], values[~is_anomaly])[0]
    if (~clean).any():
        widened = values + 2 * torch.where(is_anomaly, -error, error)
        perturbed = [s for s, c in zip(shifts, clean.tolist()) if not c]
        result[~clean] = pairwise_auroc(widened[is_anomaly], widened[~is_anomaly], perturbed)
    return result


def _interval_certified_auroc(target: Tensor, eps: Tensor, lower: Tensor | None, upper: Tensor | None) -> Tensor:
    if lower is None or upper is None:
        raise ValueError("Interval mode needs both `lower` and `upper` bounds of shape (N, K).")
    n, k = target.numel(), eps.numel()
    for name, bound in (("lower", lower), ("upper", upper)):
        if bound.shape != (n, k):
            raise ValueError(
                f"`{name}` must have shape (N, K) = ({n}, {k}): one row per sample and one column per "
                f"radius, got {tuple(bound.shape)}."
            )
    if torch.isnan(lower).any() or torch.isnan(upper).any():
        raise ValueError("`lower`/`upper` contain NaN; use -inf/+inf for a bound that could not be certified.")
    if (lower > upper).any():
        raise ValueError("Every certified interval needs lower <= upper; some rows have lower > upper.")
    is_anomaly = _check_scores_and_target(torch.zeros(n, device=target.device), target)
    lower, upper = lower.detach().to(torch.float64), upper.detach().to(torch.float64)
    return torch.cat([pairwise_auroc(lower[is_anomaly, j], upper[~is_anomaly, j]) for j in range(k)])
