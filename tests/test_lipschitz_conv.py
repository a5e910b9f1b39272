"""Convolutional Lipschitz blocks: the FFT bound against dense operator matrices, and an estimated
constant of a trained convolutional OCSDF network against its claimed bound."""

import pytest
import torch
import torch.nn.functional as F

from lightning_occ.nn.lipschitz_conv import (
    ProjectedConv2d,
    ScaledAvgPool2d,
    ScaledGlobalAvgPool2d,
    conv_operator_norm_bound,
)
from lightning_occ.nn.lipschitz_convnet import LipschitzConvNet


def dense_operator(fn, shape):
    """The matrix of a linear map on images of ``shape`` (C, H, W), column by column."""
    n = torch.Size(shape).numel()
    basis = torch.eye(n, dtype=torch.float64).reshape(n, *shape)
    return fn(basis).reshape(n, -1).T


@pytest.mark.parametrize("size", [4, 7, 10])
def test_fft_bound_holds_and_is_tight_for_zero_padded_convolutions(size):
    torch.manual_seed(size)
    weight = torch.randn(5, 3, 3, 3, dtype=torch.float64)
    exact = torch.linalg.matrix_norm(dense_operator(lambda x: F.conv2d(x, weight, padding=1), (3, size, size)), 2)
    bound = conv_operator_norm_bound(weight, (size, size))
    assert bound >= float(exact) * (1 - 1e-12)
    assert bound <= float(exact) * 1.25
    reshaped = float(torch.linalg.matrix_norm(weight.reshape(5, -1), 2))
    assert reshaped < float(exact)  # torch's spectral_norm on a conv kernel is not a bound


def test_projection_makes_the_layer_one_lipschitz_and_the_power_estimate_agrees():
    torch.manual_seed(0)
    layer = ProjectedConv2d(4, 6, 3, (9, 9))
    layer.weight.data.mul_(5.0)
    layer.project_(max_iter=1, iterations=300)
    assert abs(layer.lipschitz_bound() - 1.0) < 1e-3  # the estimate converges to the bound
    layer.project_(max_iter=30)
    matrix = dense_operator(lambda x: F.conv2d(x, layer.weight.double(), padding=1), (4, 9, 9))
    assert float(torch.linalg.matrix_norm(matrix, 2)) <= layer.lipschitz_bound() <= 1 + 1e-6


def test_scaled_pools_have_norm_one():
    pool = dense_operator(ScaledAvgPool2d(2), (2, 6, 6))
    assert abs(float(torch.linalg.matrix_norm(pool, 2)) - 1) < 1e-12
    global_pool = dense_operator(ScaledGlobalAvgPool2d(), (3, 5, 5))
    assert abs(float(torch.linalg.matrix_norm(global_pool, 2)) - 1) < 1e-12


def test_trained_conv_network_respects_its_bound():
    torch.manual_seed(0)
    net = LipschitzConvNet((1, 12, 12), channels=(8, 16), convs_per_stage=2)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    data = torch.rand(64, 1, 12, 12)
    for _ in range(30):  # move the weights away from their initialisation
        optimizer.zero_grad()
        (-net(data).std()).backward()
        optimizer.step()
        net.project_()
    net.project_(max_iter=30)
    bound = net.lipschitz_bound()
    assert bound <= 1 + 1e-4
    x, y = torch.rand(5000, 1, 12, 12), torch.rand(5000, 1, 12, 12)
    with torch.no_grad():
        ratio = (net(x) - net(y)).abs() / (x - y).flatten(1).norm(dim=1)
    assert float(ratio.max()) <= bound * (1 + 1e-4)
    points = torch.rand(256, 1, 12, 12, requires_grad=True)
    for _ in range(20):  # gradient ascent on the input-gradient norm (the Jacobian's norm for one output)
        (grad,) = torch.autograd.grad(net(points).sum(), points, create_graph=True)
        norms = grad.flatten(1).norm(dim=1)
        (step,) = torch.autograd.grad(norms.sum(), points)
        points = (points + 0.05 * step).clamp(0, 1).detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(net(points).sum(), points)
    assert float(grad.flatten(1).norm(dim=1).max()) <= bound * (1 + 1e-4)
    assert float(grad.flatten(1).norm(dim=1).max()) > 0.3  # the estimate is not vacuous


def test_grayscale_network_refuses_rgb_images():
    net = LipschitzConvNet((1, 8, 8), channels=(4,), convs_per_stage=1)
    with pytest.raises(ValueError, match="grayscale vs RGB"):
        net(torch.zeros(2, 3, 8, 8))
