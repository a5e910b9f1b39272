"""A scikit-learn / PyOD-style estimator over lightning-occ's detectors, for code that does not use Lightning."""

from __future__ import annotations

import logging
import math
import warnings
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted, validate_data

from lightning_occ.core.detector import AnomalyDetector
from lightning_occ.metrics.decisions import certified_decision_radius, choose_threshold
from lightning_occ.utils.trainers import quiet_trainer

__all__ = ["DETECTORS", "CertifiedOutlierDetector"]

DETECTORS = ("knn", "mahalanobis", "ocsdf", "vae", "pyod")


def _build(name: str, options: dict[str, Any], epsilons: list[float]) -> AnomalyDetector:
    from lightning_occ import models

    classes = {
        "knn": models.KNNDetector,
        "mahalanobis": models.MahalanobisDetector,
        "ocsdf": models.OCSDF,
        "vae": models.CompactVAE,
        "pyod": models.PyODDetector,
    }
    if name not in classes:
        raise ValueError(f"Unknown detector {name!r}; choose one of {', '.join(DETECTORS)}.")
    return classes[name](**{"epsilons": epsilons, **options})


class CertifiedOutlierDetector(BaseEstimator):
    """``fit`` / ``decision_function`` / ``predict`` / ``certify`` on numpy arrays or torch tensors.

    Runs a lightning-occ detector (a LightningModule) underneath: ``fit`` trains it on ``X`` (rows
    are normal data, or contaminated by about ``contamination``), holds out ``validation_fraction``
    of the rows, and sets the decision threshold on their scores. Conventions follow PyOD:
    ``decision_function`` is the anomaly score (higher = more anomalous), ``predict`` gives 1 for an
    anomaly and 0 for a normal row; ``score_samples`` is its negative (scikit-learn's convention).

    Args:
        detector: ``knn``, ``mahalanobis``, ``ocsdf``, ``vae`` or ``pyod``.
        detector_kwargs: its arguments (e.g. ``{"k": 5}``; for ``pyod`` ``{"detector": "LOF"}``).
        contamination: the share of anomalies flagged among validation rows (``threshold_rule``
            ``contamination``), in (0, 0.5].
        threshold_rule: ``contamination`` or ``fpr`` (then ``contamination`` is the target FPR).
        validation_fraction: rows held out to choose the threshold (training scores of a memory
            bank are biased low).
        max_epochs: training epochs (detectors fitted in one pass need 1).
        batch_size: training batch size.
        epsilons: the radii the detector evaluates at; ``certify`` may ask for any radius.
        random_state: seed of the split and of training.

    Example:
        >>> import numpy as np
        >>> X = np.random.default_rng(0).normal(size=(200, 2))
        >>> model = CertifiedOutlierDetector("knn", {"k": 5}).fit(X)
        >>> model.predict(np.array([[0.0, 0.0], [6.0, 6.0]])).tolist()
        [0, 1]
        >>> model.certify(np.array([[6.0, 6.0]]), eps=1.0)["certified"].tolist()
        [True]
    """

    def __init__(
        self,
        detector: str = "knn",
        detector_kwargs: dict[str, Any] | None = None,
        contamination: float = 0.1,
        threshold_rule: str = "contamination",
        validation_fraction: float = 0.2,
        max_epochs: int = 1,
        batch_size: int = 128,
        epsilons: tuple[float, ...] = (0.1, 0.25, 0.5),
        random_state: int = 0,
    ) -> None:
        self.detector = detector
        self.detector_kwargs = detector_kwargs
        self.contamination = contamination
        self.threshold_rule = threshold_rule
        self.validation_fraction = validation_fraction
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.epsilons = epsilons
        self.random_state = random_state

    def _array(self, X: Any, reset: bool) -> torch.Tensor:
        if isinstance(X, torch.Tensor):
            X = X.detach().cpu().numpy()
        X = validate_data(self, X, reset=reset, dtype=[np.float64, np.float32], ensure_min_samples=2 if reset else 1)
        return torch.as_tensor(np.asarray(X, dtype=np.float32))

    def fit(self, X: Any, y: Any = None) -> CertifiedOutlierDetector:
        """Train on ``X`` (n_samples, n_features); ``y`` is ignored (unsupervised)."""
        if self.threshold_rule == "contamination" and not 0 < self.contamination <= 0.5:
            raise ValueError(f"contamination must lie in (0, 0.5], got {self.contamination}.")
        if not 0 < self.validation_fraction < 1:
            raise ValueError(f"validation_fraction must lie in (0, 1), got {self.validation_fraction}.")
        from lightning_occ.data.arrays import ArrayDataModule

        x = self._array(X, reset=True)
        generator = torch.Generator().manual_seed(self.random_state)
        order = torch.randperm(len(x), generator=generator)
        n_val = min(len(x) - 1, max(1, int(round(self.validation_fraction * len(x)))))
        train, val = x[order[n_val:]], x[order[:n_val]]
        torch.manual_seed(self.random_state)
        detector = _build(self.detector, dict(self.detector_kwargs or {}), list(self.epsilons))
        lightning_log = logging.getLogger("lightning.pytorch")
        level = lightning_log.level
        lightning_log.setLevel(logging.WARNING)
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*(val_dataloader|configure_optimizers|num_workers).*")
                quiet_trainer(accelerator="cpu", max_epochs=self.max_epochs, limit_val_batches=0).fit(
                    detector, datamodule=ArrayDataModule(train, batch_size=self.batch_size, seed=self.random_state)
                )
        finally:
            lightning_log.setLevel(level)
        self.detector_ = detector.eval()
        validation_scores = self._scores(val)
        threshold = choose_threshold(torch.as_tensor(validation_scores), None, self.threshold_rule, self.contamination)
        self.detector_.set_threshold(threshold, f"{self.threshold_rule} {self.contamination:g} on held-out rows")
        self.threshold_ = threshold
        self.decision_scores_ = self._scores(x)
        self.lipschitz_bound_ = detector.lipschitz_bound
        return self

    def _scores(self, x: torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            scores = torch.cat([self.detector_.score(chunk) for chunk in x.split(4096)])
        return scores.detach().cpu().double().numpy()

    def decision_function(self, X: Any) -> np.ndarray:
        """Anomaly scores, higher = more anomalous (PyOD's convention)."""
        check_is_fitted(self)
        return self._scores(self._array(X, reset=False))

    def score_samples(self, X: Any) -> np.ndarray:
        """Normality scores, higher = more normal (scikit-learn's convention): ``-decision_function``."""
        return -self.decision_function(X)

    def predict(self, X: Any) -> np.ndarray:
        """1 for an anomaly (score above the threshold), 0 for a normal row."""
        return (self.decision_function(X) > self.threshold_).astype(np.int64)

    def certify(
        self, X: Any, eps: float | None = None, sigma: float = 0.25, n: int = 10_000, alpha: float = 0.001
    ) -> dict[str, np.ndarray]:
        """Each row's decision and the l2 radius within which no perturbation changes it (up to
        ``max(eps, *epsilons)``); with ``eps``, also whether that radius exceeds eps. A Lipschitz
        detector's radius is exact arithmetic on its bound and its proven rounding error; any other
        detector is certified by randomized smoothing (``sigma``, ``n`` noisy samples, failure
        probability ``alpha`` per row), whose decision may differ from ``predict`` and is -1 where it
        abstains."""
        check_is_fitted(self)
        if eps is not None and not (eps >= 0 and math.isfinite(eps)):
            raise ValueError(f"eps must be a finite radius >= 0, got {eps}.")
        x = self._array(X, reset=False)
        bound = self.detector_.lipschitz_bound
        if bound is not None:
            radii = self.detector_.epsilons
            reach = max([*radii, float(eps or 0.0)])
            self.detector_.epsilons = [*radii, reach]  # the rounding bound must cover the ball asked about
            try:
                with torch.no_grad():
                    scores, error = self.detector_.certified_scores(x)
            finally:
                self.detector_.epsilons = radii
            decision = (scores > self.threshold_).long()
            exact_radius = certified_decision_radius(scores, self.threshold_, bound, error)
            radius = exact_radius.clamp(max=reach)
        else:
            from lightning_occ.certify import RandomizedSmoothing

            certificate = RandomizedSmoothing(
                sigma=sigma, threshold=self.threshold_, n=n, alpha=alpha, seed=self.random_state
            ).certify(self.detector_.score, x)
            decision, radius = certificate.decision, certificate.radius.double()
            exact_radius = radius
        out = {"decision": decision.cpu().numpy(), "radius": radius.cpu().numpy()}
        if eps is not None:
            out["certified"] = exact_radius.cpu().numpy() > eps
        return out

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.non_deterministic = False
        return tags
