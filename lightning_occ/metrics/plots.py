"""Plots for evaluation results: certified-AUROC curve, ROC curve and score histograms.

Figures are plain ``matplotlib.figure.Figure`` objects, drawn without pyplot: importing lightning-occ
never changes matplotlib's global backend, and no figure stays registered after it is saved.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure

__all__ = ["plot_certified_curve", "plot_roc_curve", "plot_score_histograms"]


def _axes(figsize: tuple[float, float], **subplot: Any) -> tuple[Figure, Any]:
    figure = Figure(figsize=figsize)
    return figure, figure.add_subplot(**subplot)


def plot_certified_curve(
    epsilons: Sequence[float],
    values: Any,
    ax: Any = None,
    label: str | None = None,
    title: str | None = None,
    radius_units: str = "input units",
) -> tuple[Any, Any]:
    """AUROC against the l2 radius: the certified curve, and other curves (e.g. attacked) by label."""
    fig, ax = (ax.figure, ax) if ax is not None else _axes((5.5, 3.8))
    ax.plot(list(epsilons), torch.as_tensor(values).tolist(), marker="o", label=label)
    ax.set_xlabel(f"l2 radius eps ({radius_units})")
    ax.set_ylabel("AUROC under perturbations of norm <= eps")
    if title:
        ax.set_title(title, fontsize=9)
    ax.set_ylim(0, 1.02)
    ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    ax.grid(alpha=0.3)
    if label:
        ax.legend()
    fig.tight_layout()
    return fig, ax


def plot_roc_curve(scores: Any, target: Any, title: str | None = None) -> tuple[Any, Any]:
    """The ROC curve of the clean scores (label 1 = anomaly, the positive class), with its AUROC."""
    from sklearn.metrics import roc_auc_score, roc_curve

    scores = np.asarray(torch.as_tensor(scores, dtype=torch.float64))
    target = np.asarray(torch.as_tensor(target)).astype(int)
    false_positive, true_positive, _ = roc_curve(target, scores)
    fig, ax = _axes((4.2, 4.0))
    ax.plot(false_positive, true_positive, label=f"AUROC {roc_auc_score(target, scores):.4f}")
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":")
    ax.set_xlabel("false-positive rate (normals flagged)")
    ax.set_ylabel("true-positive rate (anomalies flagged)")
    ax.set_title(title or "ROC curve (clean inputs)", fontsize=9)
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig, ax


def plot_score_histograms(scores: Any, target: Any, ax: Any = None, title: str | None = None) -> tuple[Any, Any]:
    """Histograms of anomaly scores, normal (label 0) and anomalous (label 1) samples."""
    scores = np.asarray(torch.as_tensor(scores, dtype=torch.float64))
    target = np.asarray(torch.as_tensor(target)).astype(bool)
    fig, ax = (ax.figure, ax) if ax is not None else _axes((5.5, 3.8))
    if title:
        ax.set_title(title, fontsize=9)
    bins = np.histogram_bin_edges(scores, bins=40)
    ax.hist(scores[~target], bins=bins, alpha=0.6, label=f"normal (n={(~target).sum()})")
    ax.hist(scores[target], bins=bins, alpha=0.6, label=f"anomaly (n={target.sum()})")
    ax.set_xlabel("anomaly score (higher = more anomalous)")
    ax.set_ylabel("count")
    ax.legend()
    fig.tight_layout()
    return fig, ax


def plot_score_field(
    score_fn: Any, train_points: Any, test_points: Any, test_target: Any, resolution: int = 200
) -> tuple[Any, Any]:
    """For 2-D data: the anomaly score over the plane with its zero level, training and test points.

    For OCSDF the zero level of ``score = -f`` is the learned boundary of the normal data's support.
    """
    train_points = np.asarray(torch.as_tensor(train_points, dtype=torch.float32))
    test_points = np.asarray(torch.as_tensor(test_points, dtype=torch.float32))
    test_target = np.asarray(torch.as_tensor(test_target)).astype(bool)
    every = np.vstack([train_points, test_points])
    low, high = every.min(0), every.max(0)
    pad = 0.15 * (high - low)
    xs = np.linspace(low[0] - pad[0], high[0] + pad[0], resolution)
    ys = np.linspace(low[1] - pad[1], high[1] + pad[1], resolution)
    grid = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)
    with torch.no_grad():
        values = (
            score_fn(torch.as_tensor(grid, dtype=torch.float32)).double().cpu().numpy().reshape(resolution, resolution)
        )
    fig, ax = _axes((5.5, 4.5))
    mesh = ax.contourf(xs, ys, values, levels=30, cmap="RdBu_r")
    fig.colorbar(mesh, ax=ax, label="anomaly score")
    if values.min() < 0 < values.max():
        ax.contour(xs, ys, values, levels=[0.0], colors="k", linewidths=1.2)
    ax.scatter(*train_points.T, s=4, c="k", alpha=0.5, label="train")
    ax.scatter(*test_points[test_target].T, s=10, marker="x", c="orange", label="test anomaly")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title("anomaly score field (black line: score = 0)")
    fig.tight_layout()
    return fig, ax


def _projected(codes: Sequence[torch.Tensor]) -> tuple[list[np.ndarray], str]:
    """Codes as they are when 2-D or 3-D, else on the first two principal axes of all of them."""
    stacked = torch.cat([c.detach().double().cpu() for c in codes])
    if stacked.shape[1] <= 3:
        return [c.detach().double().cpu().numpy() for c in codes], ""
    centre = stacked.mean(0)
    axes = torch.linalg.svd(stacked - centre, full_matrices=False).Vh[:2].T
    return [((c.detach().double().cpu() - centre) @ axes).numpy() for c in codes], " (first two principal axes)"


def plot_latent_scatter(train: torch.Tensor, normal: torch.Tensor, anomalous: torch.Tensor) -> Any:
    """Latent codes of training samples, test normals and test anomalies in one 2-D or 3-D scatter."""
    points, note = _projected([train, normal, anomalous])
    three_d = points[0].shape[1] == 3
    figure, ax = _axes((5.5, 5), projection="3d" if three_d else None)
    styles = (("training codes", "0.6", 4), ("test normal", "tab:blue", 8), ("test anomalous", "tab:red", 8))
    for array, (label, colour, size) in zip(points, styles):
        if len(array):
            ax.scatter(*array.T[: 3 if three_d else 2], s=size, c=colour, label=label, alpha=0.6)
    ax.set_title("latent codes" + note)
    ax.legend(loc="best", fontsize=8)
    return figure


def plot_reconstructions(originals: torch.Tensor, reconstructions: torch.Tensor) -> Any:
    """Originals (top row) above their reconstructions (bottom row), images in [0, 1]."""
    from torchvision.utils import make_grid

    grid = make_grid(
        torch.cat([originals, reconstructions]).detach().cpu().clamp(0, 1),
        nrow=len(originals),
        padding=2,
        pad_value=1.0,
    )
    figure, ax = _axes((max(4, len(originals) * 0.6), 1.8))
    ax.imshow(grid.permute(1, 2, 0).numpy(), interpolation="nearest")
    ax.set_axis_off()
    ax.set_title("top: test inputs (normal, then anomalous); bottom: reconstructions", fontsize=8)
    return figure
