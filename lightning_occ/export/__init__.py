"""Export a trained detector's score function (ONNX, TorchScript) with a sidecar JSON for serving."""

from lightning_occ.export.files import FORMATS, export_detector

__all__ = ["FORMATS", "export_detector"]
