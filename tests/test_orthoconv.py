"""Orthogonal-convolution OCSDF: exact layer norms, gradient-norm preservation, vanilla export,
checkpoints of the exported form, and clear errors."""

from __future__ import annotations

import lightning as L
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lightning_occ.data import ScenarioDataModule
from lightning_occ.models import OCSDF
from lightning_occ.nn.orthoconv import OrthoConvNet, circular_conv_operator_norm, patch_conv_operator_norm
from lightning_occ.utils.diagnostics import gradient_norm_summary
from tests.helpers.training import tiny_trainer


def dense_matrix(apply, shape: tuple[int, ...]) -> torch.Tensor:
    """The matrix of a linear map on inputs of ``shape``, column by column (float64)."""
    size = torch.Size(shape).numel()
    basis = torch.eye(size, dtype=torch.float64).reshape(size, *shape)
    return apply(basis).reshape(size, -1).T


def test_circular_and_patch_norms_equal_the_dense_operators_largest_singular_value():
    g = torch.Generator().manual_seed(0)
    kernel = torch.randn(3, 2, 3, 3, generator=g, dtype=torch.float64)
    circular = dense_matrix(lambda x: F.conv2d(F.pad(x, (1, 1, 1, 1), mode="circular"), kernel), (2, 5, 6))
    assert circular_conv_operator_norm(kernel, (5, 6)) == pytest.approx(
        float(torch.linalg.matrix_norm(circular, 2)), rel=1e-12
    )
    tiny = dense_matrix(lambda x: F.conv2d(F.pad(x, (1, 1, 1, 1), mode="circular"), kernel), (2, 2, 2))
    assert circular_conv_operator_norm(kernel, (2, 2)) == pytest.approx(
        float(torch.linalg.matrix_norm(tiny, 2)), rel=1e-12
    )  # a grid smaller than the kernel
    patch = torch.randn(5, 2, 2, 2, generator=g, dtype=torch.float64)
    strided = dense_matrix(lambda x: F.conv2d(x, patch, stride=2), (2, 4, 6))
    assert patch_conv_operator_norm(patch) == pytest.approx(float(torch.linalg.matrix_norm(strided, 2)), rel=1e-12)


def test_a_network_of_square_orthogonal_layers_preserves_gradient_norms():
    """Every layer maps onto as many values as it reads (4 -> 4 channels, 2x2 patches of 4 -> 16), so
    each transpose is an isometry and ||grad f|| = 1 everywhere."""
    torch.manual_seed(0)
    net = OrthoConvNet((4, 8, 8), channels=(4, 16), convs_per_stage=1).eval()
    x = torch.rand(32, 4, 8, 8, requires_grad=True)
    (grad,) = torch.autograd.grad(net(x).sum(), x)
    norms = grad.flatten(1).norm(dim=1)
    assert torch.allclose(norms, torch.ones(32), atol=2e-3), norms
    assert net.lipschitz_bound() <= 1 + 1e-4


def test_export_is_plain_has_the_same_outputs_and_recomputes_the_bound():
    torch.manual_seed(0)
    net = OrthoConvNet((1, 8, 8), channels=(4, 8), convs_per_stage=(2, 1)).eval()
    plain = net.export()
    assert not any(hasattr(m, "parametrizations") for m in plain.modules())
    assert all(type(m) is nn.Conv2d for m in plain.convolutions())
    x = torch.rand(16, 1, 8, 8)
    assert torch.allclose(plain(x), net(x), atol=1e-5)
    assert plain.lipschitz_bound() == pytest.approx(net.lipschitz_bound(), abs=1e-5)


@pytest.fixture(scope="module")
def trained_orthoconv():
    L.seed_everything(0, verbose=False)
    datamodule = ScenarioDataModule("digits", normal=0, batch_size=64)
    model = OCSDF(
        network="orthoconv",
        channels=(8, 16),
        convs_per_stage=1,
        negative_init="uniform",
        domain=(0.0, 1.0),
        level=-0.05,
        warmup_epochs=2,
        negative_steps=4,
        step_scale=4.0,
        lr=1e-3,
        epsilons=[0.1, 0.25],
    )
    tiny_trainer(max_epochs=8, limit_val_batches=0).fit(model, datamodule=datamodule)
    return model, datamodule


def test_fit_ends_exported_and_the_checkpoint_round_trips(trained_orthoconv, tmp_path):
    model, datamodule = trained_orthoconv
    assert model.hparams.exported and all(type(m) is nn.Conv2d for m in model.net.convolutions())
    trainer = tiny_trainer()
    result = trainer.test(model, datamodule=datamodule, verbose=False)[0]
    assert result["test/auroc"] > 0.9 and result["test/lipschitz_bound"] <= 1 + 1e-4
    trainer.save_checkpoint(tmp_path / "exported.ckpt")
    restored = OCSDF.load_from_checkpoint(tmp_path / "exported.ckpt")
    x = datamodule.test_dataset.images[:16].float() / 255
    assert torch.equal(restored.score(x), model.score(x))
    with pytest.raises(ValueError, match="exported .* fit from the training checkpoint"):
        tiny_trainer(max_epochs=1).fit(restored, datamodule=datamodule)


def test_gradient_norms_are_reported_next_to_the_bound(trained_orthoconv):
    model, datamodule = trained_orthoconv
    summary = gradient_norm_summary(model, datamodule.test_dataset.images.float() / 255)
    assert 0 < summary["min"] <= summary["median"] <= summary["max"] <= summary["lipschitz_bound"] * (1 + 1e-6)


def test_bad_inputs_are_clear_errors():
    with pytest.raises(ValueError, match="30x30 cannot be halved 2 times .* divisible by 4"):
        OrthoConvNet((1, 30, 30), channels=(4, 8, 16))
    with pytest.raises(ValueError, match="padding_mode='reflect' is not covered by the Lipschitz proof"):
        OrthoConvNet((1, 8, 8), channels=(4, 8), padding_mode="reflect")
    net = OrthoConvNet((1, 8, 8), channels=(4, 8), convs_per_stage=1)
    with pytest.raises(ValueError, match="grayscale vs RGB"):
        net(torch.rand(2, 3, 8, 8))
    with pytest.raises(ValueError, match="Unknown network 'orthconv'"):
        OCSDF(network="orthconv")


def test_a_training_checkpoint_of_the_parametrised_network_loads_back(tmp_path):
    model = OCSDF(network="orthoconv", input_shape=(1, 8, 8), channels=(4, 8), convs_per_stage=1, epsilons=[0.1])
    trainer = tiny_trainer()
    trainer.strategy.connect(model)
    trainer.save_checkpoint(tmp_path / "training.ckpt")
    restored = OCSDF.load_from_checkpoint(tmp_path / "training.ckpt")
    assert not restored.hparams.exported and hasattr(restored.net.convolutions()[0], "parametrizations")
    x = torch.rand(8, 1, 8, 8)
    assert torch.allclose(restored.eval().score(x), model.eval().score(x), atol=1e-5)
    assert restored.lipschitz_bound == pytest.approx(model.lipschitz_bound, abs=1e-5)
