"""From scores to decisions: a threshold chosen on validation data, decision metrics, certified decisions.

A detector flags ``x`` as anomalous when ``score(x) > t``. With an L-Lipschitz score whose computed
value errs by at most ``e(x)`` over the ball of radius eps (:mod:`lightning_occ.nn.rounding`), no
perturbation of norm eps can change that decision when ``|score(x) - t| > L * eps + 2 e(x)``: the
*certified radius* of the decision is ``(|score(x) - t| - 2 e(x)) / L``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from lightning_occ.metrics.functional import _as_epsilons, check_binary_target

__all__ = [
    "THRESHOLD_RULES",
    "certified_accuracy",
    "certified_decision_radius",
    "choose_threshold",
    "decision_metrics",
    "describe_rule",
    "interval_certified_decisions",
]

THRESHOLD_RULES = ("fpr", "contamination", "f1")


def describe_rule(rule: str, value: float) -> str:
    """The rule in words, for reports: ``"FPR <= 5% on validation normals"``."""
    if rule == "fpr":
        return f"FPR <= {value:.0%} on validation normals"
    if rule == "contamination":
        return f"contamination {value:.0%} of validation samples"
    return "best F1 on validation"


def choose_threshold(scores: Tensor, target: Tensor | None, rule: str = "fpr", value: float = 0.05) -> float:
    """A decision threshold from validation scores (never test data), by a named rule.

    Args:
        scores: validation anomaly scores, shape (N,).
        target: their labels (1 = anomaly), or None when the validation split is unlabelled.
        rule: ``fpr``: the smallest threshold whose false-positive rate on the validation normals is
            at most ``value``; ``contamination``: flag the ``value`` fraction of all validation
            samples with the highest scores (as PyOD's ``contamination``); ``f1``: the threshold of
            the best F1 score (the validation split must hold anomalies).
        value: the target FPR, in [0, 1), or the contamination, in (0, 0.5]; unused by ``f1``.

    Example:
        >>> scores, target = torch.tensor([0.1, 0.2, 0.3, 0.9, 0.8]), torch.tensor([0, 0, 0, 1, 1])
        >>> choose_threshold(scores, target, "fpr", 0.0), choose_threshold(scores, target, "f1")
        (0.3, 0.3)
    """
    scores = scores.detach().to(torch.float64).flatten()
    if rule not in THRESHOLD_RULES:
        raise ValueError(f"Unknown threshold rule {rule!r}; choose one of {', '.join(THRESHOLD_RULES)}.")
    if scores.numel() == 0:
        raise ValueError("No validation scores to choose a threshold from: give the DataModule a validation split.")
    if target is not None:
        check_binary_target(target)
        target = target.flatten().bool()
    if rule == "contamination":
        if not 0 < value <= 0.5:
            raise ValueError(f"contamination must lie in (0, 0.5] (the fraction of samples flagged), got {value}.")
        return float(torch.quantile(scores, 1 - value, interpolation="lower"))
    if rule == "fpr":
        if not 0 <= value < 1:
            raise ValueError(f"The target false-positive rate must lie in [0, 1), got {value}.")
        normals = scores if target is None else scores[~target]
        if normals.numel() == 0:
            raise ValueError("Threshold rule 'fpr' needs normal samples in the validation split, which holds none.")
        return float(torch.quantile(normals, 1 - value, interpolation="higher"))
    if target is None or not bool(target.any()):
        raise ValueError(
            "Threshold rule 'f1' needs anomalies in the validation split, which holds none: use "
            "--threshold.rule fpr (a target false-positive rate on validation normals) or "
            "--threshold.rule contamination."
        )
    order = torch.argsort(scores, descending=True)
    ranked, hits = scores[order], target[order].to(torch.float64)
    true_positives = torch.cumsum(hits, 0)
    flagged = torch.arange(1, len(ranked) + 1, dtype=torch.float64)
    f1 = 2 * true_positives / (flagged + hits.sum())
    last_of_tie = torch.cat([ranked[1:] != ranked[:-1], torch.tensor([True])])
    best = int(torch.argmax(torch.where(last_of_tie, f1, torch.full_like(f1, -1.0))))
    # flag the best + 1 highest scores: the threshold sits just below the last flagged score
    return float(ranked[best + 1]) if best + 1 < len(ranked) else float(ranked[best]) - 1.0


def decision_metrics(scores: Tensor, target: Tensor, threshold: float) -> dict[str, float]:
    """Precision, recall, F1 and false-positive rate of the decisions ``score > threshold``.

    Example:
        >>> decision_metrics(torch.tensor([0.1, 0.5, 0.9, 0.2]), torch.tensor([0, 0, 1, 1]), 0.3)
        {'precision': 0.5, 'recall': 0.5, 'f1': 0.5, 'fpr': 0.5}
    """
    check_binary_target(target)
    flagged, anomalous = scores.flatten() > threshold, target.flatten().bool()
    tp = int((flagged & anomalous).sum())
    fp = int((flagged & ~anomalous).sum())
    fn = int((~flagged & anomalous).sum())
    tn = int((~flagged & ~anomalous).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "fpr": fp / (fp + tn) if fp + tn else 0.0}


def certified_decision_radius(
    scores: Tensor, threshold: float, lipschitz: float, score_error: Tensor | float | None = None
) -> Tensor:
    """The l2 radius within which no perturbation changes the decision ``score > threshold``: the
    largest eps with ``|score - t| > L eps + 2 e`` (0 when none; inf for a constant score).

    Example:
        >>> certified_decision_radius(torch.tensor([0.1, 0.9]), 0.5, lipschitz=2.0)
        tensor([0.2000, 0.2000], dtype=torch.float64)
    """
    if not (lipschitz >= 0 and math.isfinite(lipschitz)):
        raise ValueError(f"`lipschitz` must be a finite number >= 0, got {lipschitz}.")
    margin = (scores.detach().to(torch.float64) - threshold).abs()
    if score_error is not None:
        margin = margin - 2 * torch.as_tensor(score_error, dtype=torch.float64, device=margin.device)
    margin = margin.clamp_min(0)
    if lipschitz == 0:
        return torch.where(margin > 0, torch.full_like(margin, math.inf), margin)
    return margin / lipschitz


def certified_accuracy(
    scores: Tensor,
    target: Tensor,
    threshold: float,
    epsilons: Sequence[float] | Tensor,
    lipschitz: float,
    score_error: Tensor | float | None = None,
) -> Tensor:
    """The share of samples whose decision ``score > threshold`` is correct and certified at each
    radius: no perturbation of l2 norm eps changes it. At eps = 0 it is the plain accuracy.

    Example:
        >>> certified_accuracy(torch.tensor([0.1, 0.45, 0.9, 0.2]), torch.tensor([0, 0, 1, 1]), 0.5, [0.0, 0.1], 1.0)
        tensor([0.7500, 0.5000], dtype=torch.float64)
    """
    check_binary_target(target)
    eps = _as_epsilons(epsilons).to(scores.device)
    correct = (scores.flatten() > threshold) == target.flatten().bool()
    radius = certified_decision_radius(scores.flatten(), threshold, lipschitz, score_error)
    clean = correct.to(torch.float64).mean()
    certified = [(correct & (radius > e)).to(torch.float64).mean() if e > 0 else clean for e in eps.tolist()]
    return torch.stack(certified)


def interval_certified_decisions(scores: Tensor, lower: Tensor, upper: Tensor, threshold: float) -> Tensor:
    """Interval mode (smoothing certifiers): whether each decision ``score > threshold`` holds over the
    whole ball of each radius, shape (N, K): ``lower > t`` for an anomaly decision, ``upper <= t`` for
    a normal one (the bounds hold for every perturbed input within that radius).

    Example:
        >>> interval_certified_decisions(torch.tensor([0.9, 0.1]), torch.tensor([[0.9, 0.6], [0.1, 0.0]]),
        ...                              torch.tensor([[0.9, 1.2], [0.1, 0.7]]), 0.5).tolist()
        [[True, True], [True, False]]
    """
    flagged = (scores > threshold).unsqueeze(1)
    return torch.where(flagged, lower > threshold, upper <= threshold)
