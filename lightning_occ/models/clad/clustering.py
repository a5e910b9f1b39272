"""k-means initialisation of DEC centres and the clustering diagnostics CLAD logs."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.cluster import KMeans
from sklearn.metrics import normalized_mutual_info_score
from torch import Tensor

__all__ = ["cluster_fractions", "cluster_purity", "kmeans_centres", "normalized_mutual_information"]


def kmeans_centres(codes: Tensor, num_clusters: int, seed: int = 0, n_init: int = 10) -> Tensor:
    """Centres of scikit-learn's k-means (k-means++, ``n_init`` restarts) on ``codes`` (float64 inside)."""
    if num_clusters > codes.shape[0]:
        raise ValueError(
            f"num_clusters={num_clusters} is larger than the {codes.shape[0]} training samples; "
            "lower num_clusters (K) or use more normal training data."
        )
    kmeans = KMeans(n_clusters=num_clusters, n_init=n_init, random_state=seed)
    kmeans.fit(codes.detach().double().cpu().numpy())
    return torch.from_numpy(kmeans.cluster_centers_).to(codes.dtype)


def cluster_purity(clusters: Tensor, truth: Tensor) -> float:
    """Fraction of samples whose cluster's most frequent true label is their own.

    Example:
        >>> cluster_purity(torch.tensor([0, 0, 1, 1]), torch.tensor([5, 5, 5, 7]))
        0.75
    """
    found, known = clusters.cpu().numpy(), truth.cpu().numpy()
    agree = sum(np.bincount(known[found == c]).max() for c in np.unique(found))
    return float(agree / len(truth))


def normalized_mutual_information(clusters: Tensor, truth: Tensor) -> float:
    """scikit-learn's NMI (arithmetic normalisation) between cluster ids and the hidden labels."""
    return float(normalized_mutual_info_score(truth.cpu().numpy(), clusters.cpu().numpy()))


def cluster_fractions(clusters: Tensor, num_clusters: int) -> Tensor:
    """The pseudo-label histogram, as fractions of the samples per cluster."""
    return torch.bincount(clusters.cpu(), minlength=num_clusters).double() / max(clusters.numel(), 1)
