"""Plots for evaluation results: certified-AUROC curve and score histograms (matplotlib, Agg)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

__all__ = ["plot_certified_curve", "plot_score_histograms"]


def plot_certified_curve(
    epsilons: Sequence[float], values: Any, ax: Any = None, label: str | None = None
) -> tuple[Any, Any]:
    """Certified AUROC against the l2 radius."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(5, 3.6))
    ax.plot(list(epsilons), torch.as_tensor(values).tolist(), marker="o", label=label)
    ax.set_xlabel("l2 radius eps")
    ax.set_ylabel("certified AUROC")
    ax.set_ylim(0, 1.02)
    ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    ax.grid(alpha=0.3)
    if label:
        ax.legend()
    fig.tight_layout()
    return fig, ax


def plot_score_histograms(scores: Any, target: Any, ax: Any = None) -> tuple[Any, Any]:
    """Histograms of anomaly scores, normal (label 0) and anomalous (label 1) samples."""
    scores = np.asarray(torch.as_tensor(scores, dtype=torch.float64))
    target = np.asarray(torch.as_tensor(target)).astype(bool)
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(5, 3.6))
    bins = np.histogram_bin_edges(scores, bins=40)
    ax.hist(scores[~target], bins=bins, alpha=0.6, label=f"normal (n={(~target).sum()})")
    ax.hist(scores[target], bins=bins, alpha=0.6, label=f"anomaly (n={target.sum()})")
    ax.set_xlabel("anomaly score (higher = more anomalous)")
    ax.set_ylabel("count")
    ax.legend()
    fig.tight_layout()
    return fig, ax
