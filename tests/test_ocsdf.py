import math

import pytest
import torch

from lightning_occ.models import OCSDF
from lightning_occ.models.ocsdf.negatives import newton_raphson_negatives
from tests.helpers.training import tiny_trainer, trained_tiny_ocsdf

pytestmark = pytest.mark.slow  # trains models or runs the command line: not in the fast lane


@pytest.fixture(scope="module")
def trained():
    return trained_tiny_ocsdf(epochs=300)


def test_trained_ocsdf_is_1_lipschitz_on_random_pairs_and_gradients(trained):
    model, datamodule = trained
    model.eval()
    bound = model.lipschitz_bound
    assert bound <= 1 + 1e-4
    g = torch.Generator().manual_seed(0)
    data = datamodule.test_dataset.tensors[0]
    # 10,000 pairs: near the data, far from it, and at tiny distances (where round-off shows).
    x = data[torch.randint(len(data), (10_000,), generator=g)] + torch.randn(10_000, data.shape[1], generator=g)
    scale = torch.logspace(-3, 1, 10_000).unsqueeze(1)
    y = x + scale * torch.randn(x.shape, generator=g)
    with torch.no_grad():
        ratio = (model.f(x).double() - model.f(y).double()).abs() / (x - y).double().norm(dim=1)
    assert float(ratio.max()) <= 1 + 1e-4
    x.requires_grad_(True)
    (grad,) = torch.autograd.grad(model.f(x).sum(), x)
    norms = grad.norm(dim=1)
    assert float(norms.max()) <= 1 + 1e-4


def test_power_iteration_on_the_jacobian_stays_below_the_bound(trained):
    model, datamodule = trained
    x0 = datamodule.test_dataset.tensors[0][:64].clone()
    for _ in range(20):  # the scalar output's Jacobian is its gradient; maximise its norm over inputs
        x0.requires_grad_(True)
        (grad,) = torch.autograd.grad(model.f(x0).sum(), x0)
        x0 = (x0 + 0.5 * grad).detach()
    assert float(grad.norm(dim=1).max()) <= model.lipschitz_bound * (1 + 1e-4)


def test_trained_ocsdf_separates_breast_cancer(trained):
    model, datamodule = trained
    result = tiny_trainer().test(model, datamodule=datamodule, verbose=False)[0]
    assert result["test/auroc"] > 0.85
    assert result["test/certified_auroc@0.25"] <= result["test/auroc"]
    assert math.isclose(result["test/lipschitz_bound"], model.lipschitz_bound, rel_tol=1e-6)


def test_newton_raphson_moves_points_onto_the_level_set_of_a_distance():
    # f(z) = 1 - ||z||: level 0 is the unit circle; with eta = 1, T steps reach it in one go per step
    f = lambda z: 1 - z.norm(dim=1)  # noqa: E731
    z = torch.tensor([[3.0, 0.0], [0.0, -5.0], [0.2, 0.1]])
    moved = newton_raphson_negatives(f, z, steps=1, eta=torch.ones(3))
    assert torch.allclose(moved[:2].norm(dim=1), torch.ones(2), atol=1e-5)
    assert torch.equal(moved[2], z[2])  # inside (f > level): frozen by the relu


def test_negatives_respect_warmup_and_domain():
    model = OCSDF(in_features=3, width=16, depth=2, domain=(-1.0, 1.0), negative_init="uniform", warmup_epochs=2)
    negatives = model.sample_negatives(500)
    assert negatives.min() >= -1 and negatives.max() <= 1


def test_ocsdf_refuses_wrong_feature_count():
    with pytest.raises(ValueError, match=r"expects inputs of shape \(3,\) \(3 values\)"):
        OCSDF(in_features=3, width=16, depth=2).score(torch.zeros(2, 4))


def test_checkpoint_round_trip_rebuilds_the_inferred_network(trained, tmp_path):
    model, datamodule = trained
    trainer = tiny_trainer(max_epochs=1)
    trainer.strategy.connect(model)
    path = tmp_path / "model.ckpt"
    trainer.save_checkpoint(path)
    restored = OCSDF.load_from_checkpoint(path)
    x = datamodule.test_dataset.tensors[0]
    assert torch.equal(restored.score(x), model.score(x))
