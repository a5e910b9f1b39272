"""Any PyOD detector as an AnomalyDetector: trained on the DataModule's data, certified by smoothing."""

from __future__ import annotations

import difflib
import importlib
import inspect
import pkgutil
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from lightning_occ.core.card import MethodCard
from lightning_occ.core.fitted import FittedDetector
from lightning_occ.errors import UserError

__all__ = ["PyODDetector", "pyod_class"]

PYOD_EXTRA = "pip install 'lightning-occ[pyod]'"


def _import_pyod_models() -> Any:
    try:
        return importlib.import_module("pyod.models")
    except ImportError:
        raise UserError(f"PyODDetector needs PyOD, which is not installed: {PYOD_EXTRA}.") from None


def pyod_class(name: str) -> type:
    """The PyOD detector class called ``name`` (``KNN``, ``LOF``, ``IForest``, ``ECOD``, ``LUNAR``, ...)."""
    models = _import_pyod_models()
    modules = [info.name for info in pkgutil.iter_modules(models.__path__)]
    candidates = [name.lower(), *modules]
    for module_name in dict.fromkeys(candidates):
        if module_name not in modules:
            continue
        try:
            module = importlib.import_module(f"pyod.models.{module_name}")
        except ImportError:
            continue
        found = getattr(module, name, None)
        if inspect.isclass(found) and hasattr(found, "decision_function"):
            return found
        if module_name == name.lower():
            break
    known = [
        "ABOD",
        "AutoEncoder",
        "CBLOF",
        "COPOD",
        "ECOD",
        "HBOS",
        "IForest",
        "KDE",
        "KNN",
        "LODA",
        "LOF",
        "LUNAR",
        "MCD",
        "OCSVM",
        "PCA",
        "SUOD",
    ]
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(close)}?" if close else f" Examples: {', '.join(known)}."
    raise ValueError(f"PyOD has no detector class {name!r}.{hint}")


class PyODDetector(FittedDetector):
    """A PyOD detector (``fit`` / ``decision_function``) trained on the normal training data.

    PyOD's ``decision_function`` is the anomaly score (higher = more anomalous). PyOD detectors have
    no Lipschitz bound: ``lightning-occ certify`` certifies them by percentile smoothing, which needs
    only their scores. The checkpoint holds the training inputs (tensors only, no pickled PyOD
    object) and the detector is fitted again from them when loaded, with ``random_state`` fixed
    where the class takes one, so a checkpoint gives the same scores.

    Args:
        detector: the PyOD class name, e.g. ``KNN``, ``LOF``, ``IForest``, ``ECOD``, ``LUNAR``.
        detector_kwargs: its constructor arguments.
        seed: ``random_state`` for classes that take one.
        epsilons: radii reported by ``lightning-occ certify``.

    Example:
        >>> detector = PyODDetector("KNN", {"n_neighbors": 1})
        >>> detector.fit_data(torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
        >>> detector.score(torch.tensor([[0.0, 3.0]]))
        tensor([2.], dtype=torch.float64)
    """

    train_inputs: Tensor

    card = MethodCard(
        paper="Zhao et al., PyOD: A Python Toolbox for Scalable Outlier Detection, JMLR 2019",
        url="https://www.jmlr.org/papers/v20/19-011.html",
        license="Apache-2.0 (PyOD: BSD-2-Clause)",
    )
    fitted_buffers = ("train_inputs",)

    def __init__(
        self,
        detector: str = "KNN",
        detector_kwargs: dict[str, Any] | None = None,
        seed: int = 0,
        epsilons: Sequence[float] = (0.1, 0.25, 0.5),
    ) -> None:
        super().__init__(epsilons=epsilons)
        self.detector_class = pyod_class(detector)
        self.save_hyperparameters()
        self.register_buffer("train_inputs", torch.empty(0, 0))
        self._model: Any = None

    @property
    def is_fitted(self) -> bool:
        return self.train_inputs.numel() > 0

    def _new_model(self) -> Any:
        options = dict(self.hparams.detector_kwargs or {})
        if "random_state" in inspect.signature(self.detector_class).parameters:
            options.setdefault("random_state", self.hparams.seed)
        return self.detector_class(**options)

    def fit_data(self, features: Tensor) -> None:
        self.train_inputs = features.detach().flatten(1).to(self.train_inputs.device, torch.float32)
        self._model = None
        self._fitted_model()

    def _fitted_model(self) -> Any:
        if self._model is None:
            if not self.is_fitted:
                raise RuntimeError("PyODDetector is not fitted: fit it (trainer.fit) or call fit_data().")
            # detectors that train torch networks (LUNAR) draw from torch's generator and need gradients,
            # also when first used inside an evaluation loop
            numpy_state = np.random.get_state()
            try:
                with torch.random.fork_rng(), torch.inference_mode(False), torch.enable_grad():
                    torch.manual_seed(self.hparams.seed)
                    np.random.seed(self.hparams.seed)  # and numpy's global one (LUNAR's negative samples)
                    self._model = self._new_model().fit(self.train_inputs.cpu().double().numpy())
            finally:
                np.random.set_state(numpy_state)
        return self._model

    def score(self, x: Tensor) -> Tensor:
        features = x.detach().flatten(1)
        if features.shape[1] != self.train_inputs.shape[1] and self.is_fitted:
            raise ValueError(
                f"PyODDetector was fitted on {self.train_inputs.shape[1]} features, got {features.shape[1]}."
            )
        with torch.random.fork_rng():
            scores = self._fitted_model().decision_function(features.cpu().double().numpy())
        return torch.as_tensor(scores, dtype=torch.float64, device=x.device)

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any) -> None:
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._model = None  # fitted again from the loaded training inputs on first use
