"""The detector contract, checked for every registered detector: adding a detector adds one line to DETECTORS.

Each is trained briefly on a user's minimal DataModule (tests/helpers/user_data.py), then must score
a batch with shape (N,) and higher scores for anomalies, survive a checkpoint round trip with the
same scores, and, when it claims a Lipschitz bound, never exceed it on sampled pairs and gradients.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

from lightning_occ.callbacks import EvaluationRecorder
from lightning_occ.core import AnomalyDataModule, AnomalyDetector
from lightning_occ.core.checkpoints import load_detector
from lightning_occ.metrics.functional import exact_auroc
from lightning_occ.models import CLAD, OCSDF, CompactVAE, KNNDetector, MahalanobisDetector, PyODDetector
from tests.helpers.training import tiny_trainer
from tests.helpers.user_data import BlobsDataModule

pytestmark = pytest.mark.slow  # trains models or runs the command line: not in the fast lane

IMAGE = (1, 8, 8)
VECTOR = (2,)

# name: (factory, input shape, epochs)
DETECTORS: dict[str, tuple[Callable[[], AnomalyDetector], tuple[int, ...], int]] = {
    "OCSDF-mlp": (
        lambda: OCSDF(width=16, depth=2, warmup_epochs=5, negative_steps=2, lr=1e-2, epsilons=[0.05]),
        VECTOR,
        40,
    ),
    "OCSDF-orthoconv": (
        lambda: OCSDF(
            network="orthoconv",
            stem="patches",
            channels=(4, 8),
            convs_per_stage=1,
            negative_init="uniform",
            domain=(0.0, 1.0),
            warmup_epochs=1,
            negative_steps=1,
            lr=1e-2,
            epsilons=[0.05],
        ),
        IMAGE,
        4,
    ),
    "KNNDetector": (lambda: KNNDetector(k=3, epsilons=[0.05]), VECTOR, 1),
    "CompactVAE": (lambda: CompactVAE(latent="lipschitz", latent_dim=2, hidden=16, k=3, epsilons=[0.05]), VECTOR, 3),
    "CLAD": (
        lambda: CLAD(
            num_clusters=2,
            latent_dim=2,
            ae_channels=(4, 4),
            ae_epochs=1,
            dec_epochs=1,
            classifier_epochs=1,
            classifier="resnet18",
            classifier_kwargs={"channels": [4, 4, 4, 4]},
            score_name="recon",
            epsilons=[0.05],
        ),
        IMAGE,
        3,
    ),
    "MahalanobisDetector": (lambda: MahalanobisDetector(epsilons=[0.05]), VECTOR, 1),
    "PyODDetector-KNN": (lambda: PyODDetector("KNN", epsilons=[0.05]), VECTOR, 1),
    "PyODDetector-LUNAR": (lambda: PyODDetector("LUNAR", {"n_epochs": 20}, epsilons=[0.05]), IMAGE, 1),
}


def lipschitz_estimate(score: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> float:
    """The largest slope seen: finite differences over random nearby pairs and input-gradient norms."""
    generator = torch.Generator().manual_seed(0)
    x = x.to(torch.float64)
    step = 1e-3 * torch.randn(x.shape, generator=generator, dtype=torch.float64)
    slopes = (score(x + step) - score(x)).abs() / step.flatten(1).norm(dim=1)
    with torch.enable_grad():
        z = x.clone().requires_grad_(True)
        (gradient,) = torch.autograd.grad(score(z).sum(), z)
    return max(float(slopes.max()), float(gradient.flatten(1).norm(dim=1).max()))


@pytest.fixture(scope="module", params=sorted(DETECTORS))
def trained(request, tmp_path_factory) -> dict[str, Any]:
    factory, shape, epochs = DETECTORS[request.param]
    torch.manual_seed(0)
    data = BlobsDataModule(input_shape=shape)
    detector = factory()
    trainer = tiny_trainer(max_epochs=epochs, limit_val_batches=0)
    trainer.fit(detector, datamodule=data)
    path = tmp_path_factory.mktemp("contract") / "detector.ckpt"
    trainer.save_checkpoint(path)
    return {"name": request.param, "detector": detector.eval(), "data": data, "path": path}


def test_the_user_datamodule_implements_the_protocol():
    assert isinstance(BlobsDataModule(), AnomalyDataModule)


def test_scores_have_one_value_per_input_and_anomalies_score_higher(trained):
    detector, data = trained["detector"], trained["data"]
    with torch.no_grad():
        scores = detector.score(data.test_x)
    assert scores.shape == (len(data.test_x),)
    assert torch.isfinite(scores).all()
    assert float(exact_auroc(scores, data.test_y)) > 0.9, trained["name"]


def test_a_checkpoint_round_trip_gives_the_same_scores(trained):
    detector, data = trained["detector"], trained["data"]
    reloaded = load_detector(trained["path"]).eval()
    assert type(reloaded) is type(detector)
    with torch.no_grad():
        torch.testing.assert_close(reloaded.score(data.test_x), detector.score(data.test_x), rtol=1e-6, atol=1e-6)


def test_test_logs_auroc_and_certified_auroc_when_a_bound_is_claimed(trained):
    detector, data = trained["detector"], trained["data"]
    recorder = EvaluationRecorder()
    metrics = tiny_trainer(callbacks=[recorder]).test(detector, datamodule=data, verbose=False)[0]
    evaluation = recorder.latest["test"]
    assert metrics["test/auroc"] == pytest.approx(evaluation.auroc)
    certified = detector.lipschitz_bound is not None
    assert ("test/certified_auroc@0.05" in metrics) == certified
    if certified:
        assert evaluation.certified[1] <= evaluation.auroc
    else:
        assert evaluation.certificate is None and torch.isnan(evaluation.certified[1:]).all()


def test_a_claimed_lipschitz_bound_holds_on_sampled_slopes(trained):
    detector, data = trained["detector"], trained["data"]
    bound = detector.lipschitz_bound
    if bound is None:
        pytest.skip(f"{trained['name']} claims no Lipschitz bound")
    x = torch.cat([data.test_x, data.train[:32]])
    estimate = lipschitz_estimate(detector.attacked_score, x)
    assert 0 < estimate <= bound * (1 + 1e-6), (trained["name"], estimate, bound)
