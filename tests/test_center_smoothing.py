"""Center smoothing: identity closed form, validity under perturbation, chunking, errors."""

import pytest
import torch

from lightning_occ.certify import CenterSmoothing
from lightning_occ.certify.metrics_space import chunked_median_distances, l2_distance

pytestmark = pytest.mark.slow  # trains models or runs the command line: not in the fast lane


def test_identity_certified_radius_is_at_least_the_input_radius():
    eps = [0.05, 0.2]
    cs = CenterSmoothing(sigma=0.25, epsilons=eps, n_pred=5000, n_cert=4000)
    cert = cs.certify(lambda z: z, torch.randn(3, 4, generator=torch.Generator().manual_seed(0)))
    assert not cert.abstain.any()
    for k, radius in enumerate(eps):
        assert (cert.radius[:, k] >= radius).all()
    assert (cert.radius[:, 1] >= cert.radius[:, 0]).all()


def test_centers_of_perturbed_inputs_stay_within_the_certificate():
    torch.manual_seed(0)
    eps = 0.3
    matrix = torch.randn(6, 4)
    fn = lambda z: torch.tanh(z @ matrix.T)  # noqa: E731
    cs = CenterSmoothing(sigma=0.5, epsilons=[eps], n_pred=5000, n_cert=3000, seed=3)
    x = torch.randn(4, 4)
    cert = cs.certify(fn, x)
    delta = torch.randn(4, 4)
    moved = cs.certify(fn, x + eps * delta / delta.norm(dim=1, keepdim=True))
    shift = (cert.center - moved.center).norm(dim=1)
    assert not cert.abstain.any() and not moved.abstain.any()
    assert (shift <= cert.radius[:, 0]).all()


def test_angular_metric_certifies_directions():
    cs = CenterSmoothing(sigma=0.1, epsilons=[0.05], n_pred=5000, n_cert=2000, metric="angular")
    cert = cs.certify(lambda z: z + torch.tensor([3.0, 0.0]), torch.zeros(2, 2))
    assert not cert.abstain.any()
    assert (cert.radius[:, 0] < 0.2).all()  # radians; the outputs' directions barely move
    assert torch.allclose(cert.center / cert.center.norm(dim=1, keepdim=True), torch.tensor([1.0, 0.0]), atol=0.02)


def test_chunked_medians_equal_one_shot_medians():
    points = torch.randn(300, 7)
    chunked = chunked_median_distances(l2_distance, points, points, max_elements=9000)
    full = torch.cdist(points, points).kthvalue(150, dim=1).values
    assert torch.allclose(chunked, full, atol=1e-5)


def test_negative_distances_are_rejected():
    cs = CenterSmoothing(sigma=0.2, epsilons=[0.05], n_pred=2000, n_cert=2000, metric=lambda a, b: a @ b.T)
    with pytest.raises(ValueError, match="true metric"):
        cs.certify(lambda z: z, torch.zeros(1, 3))


def test_bad_settings_say_what_to_change():
    with pytest.raises(ValueError, match="sigma must be > 0"):
        CenterSmoothing(sigma=0.0)
    with pytest.raises(ValueError, match=r"n_pred >= \d+"):
        CenterSmoothing(n_pred=100)
    with pytest.raises(ValueError, match="can certify input radii up to"):
        CenterSmoothing(sigma=0.1, epsilons=[1.0], n_cert=1000)
    with pytest.raises(ValueError, match="Unknown metric"):
        CenterSmoothing(metric="manhattan-ish")
