"""The scikit-learn / PyOD-style estimator: sklearn's own estimator checks, tensors, certify."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.utils.estimator_checks import check_estimator

from lightning_occ.estimators import CertifiedOutlierDetector
from lightning_occ.utils.attacks import PGDSettings, pgd_attack_scores

SKIPPED_ON_PURPOSE = {"check_array_api_input": "needs SCIPY_ARRAY_API; the estimator takes numpy and torch inputs"}


def test_sklearn_estimator_checks_pass():
    results = check_estimator(CertifiedOutlierDetector("knn", {"k": 1}), on_fail=None)
    failed = {r["check_name"]: str(r["exception"]) for r in results if r["status"] == "failed"}
    skipped = {r["check_name"] for r in results if r["status"] == "skipped"}
    assert failed == {}
    assert skipped <= set(SKIPPED_ON_PURPOSE)
    assert len(results) > 30


def blobs(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(300, 3)), rng.normal(loc=5.0, size=(20, 3))


@pytest.mark.parametrize(
    "detector, options", [("knn", {"k": 5}), ("mahalanobis", {}), ("pyod", {"detector": "IForest"})]
)
def test_fit_predict_on_numpy_and_tensors_flags_the_contamination(detector, options):
    normal, outliers = blobs()
    model = CertifiedOutlierDetector(detector, options, contamination=0.05).fit(normal)
    assert model.predict(outliers).mean() > 0.9
    assert 0.0 <= model.predict(normal).mean() <= 0.15
    as_tensor = model.decision_function(torch.as_tensor(outliers))
    np.testing.assert_allclose(as_tensor, model.decision_function(outliers))
    np.testing.assert_allclose(model.score_samples(outliers), -as_tensor)


def test_lipschitz_certificates_survive_an_attack_at_their_radius():
    normal, outliers = blobs(1)
    model = CertifiedOutlierDetector("knn", {"k": 5}, contamination=0.05).fit(normal)
    x = np.concatenate([normal[:20], outliers])
    result = model.certify(x, eps=0.5)
    assert set(result) == {"decision", "radius", "certified"}
    np.testing.assert_array_equal(result["decision"], model.predict(x))
    score = model.detector_.score
    for i in np.flatnonzero(result["radius"] > 0)[:15]:
        row = torch.as_tensor(x[i : i + 1], dtype=torch.float32)
        decision = torch.as_tensor(result["decision"][i : i + 1])
        attacked = pgd_attack_scores(score, row, decision, 0.999 * float(result["radius"][i]), PGDSettings(steps=30))
        assert int(attacked > model.threshold_) == result["decision"][i]


def test_detectors_without_a_bound_are_certified_by_randomized_smoothing():
    normal, outliers = blobs(2)
    model = CertifiedOutlierDetector("pyod", {"detector": "KNN"}, contamination=0.05).fit(normal)
    assert model.lipschitz_bound_ is None
    result = model.certify(outliers[:5], eps=0.1, sigma=0.25, n=500, alpha=0.01)
    assert set(np.unique(result["decision"])) <= {-1, 0, 1}
    assert (result["radius"][result["decision"] == 1] > 0).all()


@pytest.mark.parametrize(
    "options, message",
    [({"contamination": 0.7}, "contamination must lie in"), ({"detector": "svm"}, "Unknown detector 'svm'")],
)
def test_bad_settings_say_what_is_allowed(options, message):
    with pytest.raises(ValueError, match=message):
        CertifiedOutlierDetector(**options).fit(blobs()[0])
