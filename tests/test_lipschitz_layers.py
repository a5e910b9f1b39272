import pytest
import torch

from lightning_occ.nn import (
    FrobeniusLinear,
    FullSort,
    GroupSort,
    LipschitzMLP,
    OrthogonalLinear,
    bjorck_orthonormalize_,
    spectral_norm,
)


@pytest.mark.parametrize("shape", [(64, 64), (64, 7), (7, 64), (256, 256)])
def test_bjorck_projects_arbitrary_matrices_onto_orthogonal_ones(shape):
    weight = torch.randn(*shape, generator=torch.Generator().manual_seed(0)) * 3
    bjorck_orthonormalize_(weight)
    singular = torch.linalg.svdvals(weight.double())
    assert torch.allclose(singular, torch.ones_like(singular), atol=1e-5)


def test_one_warm_started_iteration_repairs_an_optimiser_sized_step():
    layer = OrthogonalLinear(128, 128)
    with torch.no_grad():
        layer.weight.add_(5e-3 * torch.randn_like(layer.weight))  # RMSprop's first step size
    before = spectral_norm(layer.weight)
    layer.project_(max_iter=1)
    assert before > 1.01
    assert abs(spectral_norm(layer.weight) - 1) < abs(before - 1) / 20


@pytest.mark.parametrize("activation", [FullSort(), GroupSort(2), GroupSort(4)])
def test_sorting_activations_are_permutations(activation):
    x = torch.randn(10, 8)
    y = activation(x)
    assert torch.allclose(y.sort(1).values, x.sort(1).values)
    assert torch.allclose(y.norm(dim=1), x.norm(dim=1))


def test_groupsort_rejects_indivisible_width():
    with pytest.raises(ValueError, match="divisible"):
        GroupSort(3)(torch.randn(2, 4))


def test_frobenius_layer_has_unit_norm():
    layer = FrobeniusLinear(32, 1)
    assert abs(float(layer.weight.norm()) - 1) < 1e-6


def test_mlp_bound_is_a_true_bound_for_scaled_weights():
    net = LipschitzMLP(5, width=16, depth=2)
    with torch.no_grad():
        net.layers[0].weight.mul_(1.7)  # break orthogonality on purpose: the bound must follow
    bound = net.lipschitz_bound()
    assert bound == pytest.approx(1.7, rel=1e-4)
    x = torch.randn(2000, 5)
    y = x + 0.1 * torch.randn_like(x)
    ratio = (net(x) - net(y)).abs() / (x - y).norm(dim=1)
    assert float(ratio.max()) <= bound * (1 + 1e-5)
