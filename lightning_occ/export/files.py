"""Write a detector's score function as ONNX or TorchScript, with a JSON sidecar to serve it by."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import torch
from torch import nn

from lightning_occ.core.detector import AnomalyDetector
from lightning_occ.errors import ExportError
from lightning_occ.utils.atomic import atomic_path

__all__ = ["FORMATS", "ONNX_LIMIT_BYTES", "DescribesPreprocessing", "export_detector"]

FORMATS = ("onnx", "torchscript")
ONNX_LIMIT_BYTES = 2**31 - 1
"""ONNX files are protocol buffers, which cannot exceed 2 GB (weights and banks included)."""


@runtime_checkable
class DescribesPreprocessing(Protocol):
    """A DataModule that says how raw inputs become model inputs (recorded in the export's sidecar)."""

    def preprocessing(self) -> dict[str, Any]: ...


def _size_bytes(module: nn.Module) -> int:
    tensors = [*module.parameters(), *module.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)


def export_detector(
    detector: AnomalyDetector,
    out_dir: str | Path,
    format: Literal["onnx", "torchscript"] = "onnx",
    preprocessing: dict[str, Any] | None = None,
    onnx_limit_bytes: int = ONNX_LIMIT_BYTES,
) -> tuple[Path, Path]:
    """Write ``score.onnx`` or ``score.pt`` and ``score.json`` into ``out_dir``; returns both paths.

    The file maps a float32 batch of inputs, shape ``(N, *input_shape)``, to the anomaly scores (N,);
    for Lipschitz networks it is the plain form (no parametrisation). The sidecar holds what serving
    needs: the input shape and units, the preprocessing, the decision threshold and how it was
    chosen, the Lipschitz bound and the radii.

    Raises:
        ExportError: a detector without a traceable score, an unknown format, or an ONNX file that
            would exceed 2 GB (a large kNN bank: use TorchScript).
    """
    if format not in FORMATS:
        raise ExportError(f"Unknown export format {format!r}; choose one of {', '.join(FORMATS)}.")
    detector = detector.eval().cpu()
    module = detector.export_module().eval().cpu()
    shape = getattr(detector, "input_shape", None) or _fitted_shape(detector)
    size = _size_bytes(module)
    if format == "onnx" and size > onnx_limit_bytes:
        raise ExportError(
            f"{type(detector).__name__} holds {size / 1e9:.3g} GB of weights and banks (a kNN bank of "
            f"every training input is the usual cause), over ONNX's {onnx_limit_bytes / 1e9:.3g} GB "
            "limit: export with "
            "--format torchscript, or fit on fewer training inputs."
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    example = torch.rand(2, *shape)
    path = out / ("score.onnx" if format == "onnx" else "score.pt")
    with warnings.catch_warnings(), torch.no_grad(), atomic_path(path) as partial:
        warnings.simplefilter("ignore")
        if format == "onnx":
            torch.onnx.export(
                module,
                (example,),
                str(partial),
                input_names=["input"],
                output_names=["score"],
                dynamic_axes={"input": {0: "batch"}, "score": {0: "batch"}},
                dynamo=False,
            )
        else:
            torch.jit.trace(module, example, check_trace=False).save(str(partial))
    sidecar = out / "score.json"
    with atomic_path(sidecar) as partial:
        partial.write_text(json.dumps(_description(detector, path, format, shape, preprocessing), indent=2))
    return path, sidecar


def _fitted_shape(detector: AnomalyDetector) -> tuple[int, ...]:
    for name in ("bank", "mean"):
        buffer = getattr(detector, name, None)
        if isinstance(buffer, torch.Tensor) and buffer.numel() > 0:
            return (int(buffer.shape[-1]),)
    raise ExportError(f"{type(detector).__name__} does not know its input shape: fit it before exporting it.")


def _description(
    detector: AnomalyDetector, path: Path, format: str, shape: tuple[int, ...], preprocessing: dict[str, Any] | None
) -> dict[str, Any]:
    images = len(shape) == 3
    return {
        "file": path.name,
        "format": format,
        "detector": f"{type(detector).__module__}.{type(detector).__qualname__}",
        "input": {
            "name": "input",
            "shape": ["batch", *shape],
            "dtype": "float32",
            "units": "pixels scaled to [0, 1]" if images else "the DataModule's (standardised) features",
        },
        "output": {"name": "score", "shape": ["batch"], "meaning": "anomaly score, higher = more anomalous"},
        "preprocessing": preprocessing or {},
        "threshold": detector.threshold,
        "threshold_rule": detector.threshold_rule,
        "decision": "anomaly when score > threshold",
        "lipschitz_bound": detector.lipschitz_bound,
        "epsilons": [e for e in detector.epsilons if e > 0],
        "certified_radius": "(|score - threshold|) / lipschitz_bound, for a Lipschitz detector",
    }
