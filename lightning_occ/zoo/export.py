"""Writing a detector's weights as a zoo file: safetensors, written atomically, half precision where safe."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file

from lightning_occ.core.detector import AnomalyDetector
from lightning_occ.utils.atomic import atomic_path

__all__ = ["export_weights", "storage_dtype"]


def storage_dtype(model: AnomalyDetector) -> torch.dtype:
    """``float32`` for a detector with a proven Lipschitz bound, ``float16`` otherwise.

    Rounding the weights of a certified detector would void the proof behind its bound (an orthogonal
    matrix rounded to float16 is no longer orthogonal), so those keep full precision. A detector
    without a bound (CLAD, a Gaussian-latent VAE) loses nothing that was promised; its file halves,
    and the zoo's recorded metrics are measured on the stored weights, so they stay exact.
    """
    return torch.float32 if model.lipschitz_bound is not None else torch.float16


def export_weights(
    model: AnomalyDetector, path: str | Path, metadata: dict[str, str] | None = None, dtype: torch.dtype | None = None
) -> torch.dtype:
    """Save ``model.state_dict()`` to ``path`` as safetensors, float32 tensors cast to ``dtype``
    (default :func:`storage_dtype`); other dtypes (float64 settings, integer buffers) are kept.

    The file is written beside ``path`` and renamed into place, so an interrupted export leaves no
    half-written weights. ``load_state_dict`` casts the tensors back to the model's dtype.

    Returns:
        The dtype the float32 tensors were stored in.

    Example:
        >>> import tempfile
        >>> from lightning_occ.models import KNNDetector
        >>> export_weights(KNNDetector(k=1), f"{tempfile.mkdtemp()}/knn.safetensors")  # kNN is 1-Lipschitz
        torch.float32
    """
    dtype = dtype or storage_dtype(model)
    tensors = {
        name: value.detach().cpu().to(dtype if value.dtype == torch.float32 else value.dtype).contiguous().clone()
        for name, value in model.state_dict().items()
    }
    with atomic_path(path) as partial:
        save_file(tensors, partial, metadata=metadata)
    return dtype
