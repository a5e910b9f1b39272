"""CompactVAE: scores, compact latents, a proven bound checked empirically, checkpoints, errors."""

import lightning as L
import pytest
import torch

from lightning_occ.data import ScenarioDataModule
from lightning_occ.models import CompactVAE
from tests.helpers.training import tiny_trainer


@pytest.fixture(scope="module")
def trained_lipschitz_vae():
    L.seed_everything(0, verbose=False)
    datamodule = ScenarioDataModule("digits", normal=0, batch_size=64)
    model = CompactVAE(latent="lipschitz", latent_dim=6, hidden=64, lipschitz=2.0, epsilons=[0.1, 0.25])
    tiny_trainer(max_epochs=15, limit_val_batches=0).fit(model, datamodule=datamodule)
    return model, datamodule


def test_hole_score_of_the_lipschitz_latent_respects_its_bound(trained_lipschitz_vae):
    model, datamodule = trained_lipschitz_vae
    bound = model.lipschitz_bound
    assert bound is not None and bound <= 2.0 * (1 + 1e-4)
    x, y = torch.rand(4000, 1, 8, 8), torch.rand(4000, 1, 8, 8)
    with torch.no_grad():
        ratio = (model.score(x) - model.score(y)).abs() / (x - y).flatten(1).norm(dim=1)
    assert float(ratio.max()) <= bound * (1 + 1e-4)
    points = datamodule.test_dataset.images[:256].float().div(255).requires_grad_(True)
    (grad,) = torch.autograd.grad(model.score(points).sum(), points)
    assert float(grad.flatten(1).norm(dim=1).max()) <= bound * (1 + 1e-4)
    result = tiny_trainer().test(model, datamodule=datamodule, verbose=False)[0]
    assert result["test/auroc"] > 0.8
    assert result["test/certified_auroc@0.25"] <= result["test/certified_auroc@0.1"] <= result["test/auroc"]


def test_scores_switch_and_only_the_lipschitz_hole_score_is_certified(trained_lipschitz_vae):
    model, datamodule = trained_lipschitz_vae
    x = datamodule.test_dataset.images[:8].float().div(255)
    for name in ("elbo", "recon", "hole"):
        model.score_name = name
        assert model.score(x).shape == (8,)
        assert (model.lipschitz_bound is not None) == (name == "hole")
    model.score_name = "hole"


def test_sphere_codes_live_on_the_unit_sphere():
    model = CompactVAE(input_shape=(5,), latent="sphere", latent_dim=3, hidden=16)
    codes = model.codes(torch.randn(10, 5) * 100)
    assert codes.shape == (10, 4) and torch.allclose(codes.norm(dim=1), torch.ones(10), atol=1e-5)
    assert model.lipschitz_bound is None


def test_checkpoint_round_trip_keeps_the_bank(trained_lipschitz_vae, tmp_path):
    model, datamodule = trained_lipschitz_vae
    trainer = tiny_trainer()
    trainer.strategy.connect(model)
    trainer.save_checkpoint(tmp_path / "vae.ckpt")
    restored = CompactVAE.load_from_checkpoint(tmp_path / "vae.ckpt")
    x = datamodule.test_dataset.images[:16].float().div(255)
    assert torch.equal(restored.bank, model.bank)
    assert torch.allclose(restored.score(x), model.score(x))


def test_bad_settings_are_clear_errors():
    with pytest.raises(ValueError, match="latent_dim >= 2"):
        CompactVAE(latent="sphere", latent_dim=1)
    with pytest.raises(ValueError, match="must be > 0"):
        CompactVAE(latent="lipschitz", lipschitz=0.0)
    model = CompactVAE(input_shape=(3,), latent="gaussian", latent_dim=2, hidden=8, k=5)
    with pytest.raises(ValueError, match="k=5 needs more than 4 training codes"):
        model.build_bank(torch.randn(4, 3))
    with pytest.raises(RuntimeError, match="bank is empty"):
        model.score(torch.randn(2, 3))
    with pytest.raises(ValueError, match="needs network='mlp'"):
        CompactVAE(network="conv", latent="lipschitz")


def test_conv_vae_from_the_cli_writes_latent_scatter_and_reconstructions(tmp_path):
    from pathlib import Path

    from PIL import Image

    from lightning_occ.cli import build_cli

    config = str(Path(__file__).resolve().parents[1] / "configs/vae/digits_cur.yaml")
    args = [
        "--config",
        config,
        "--model.init_args.network",
        "conv",
        "--model.init_args.latent_dim",
        "2",
        "--trainer.max_epochs",
        "2",
        "--trainer.enable_progress_bar",
        "false",
        "--trainer.logger",
        "false",
        "--report.out_dir",
        str(tmp_path / "report"),
    ]
    fit = build_cli(["fit", *args])
    assert type(fit.model.encoder).__name__ == "ConvGaussianEncoder"
    tested = build_cli(["test", *args, "--ckpt_path", "results/vae_digits_cur/checkpoints/last.ckpt"])
    assert 0 <= float(tested.trainer.callback_metrics["test/auroc"]) <= 1
    for name in ("latent_scatter.png", "reconstructions.png"):
        image = Image.open(tmp_path / "report" / name)
        assert image.size[0] > 300 and len(set(image.convert("L").getdata())) > 20  # drawn, not blank
    figure = tested.model.report_figures(tested.datamodule)["latent_scatter.png"]
    assert figure.axes[0].name == "3d"  # codes on S^2 live in R^3


def test_latent_scatter_projects_wide_codes_on_their_principal_axes():
    from lightning_occ.metrics.plots import plot_latent_scatter

    codes = torch.zeros(50, 6)
    codes[:, 4] = torch.linspace(-5, 5, 50)  # all the spread on one axis
    figure = plot_latent_scatter(codes, codes[:5], codes[5:10])
    offsets = figure.axes[0].collections[0].get_offsets()
    assert "principal axes" in figure.axes[0].get_title()
    spread = offsets.max(0) - offsets.min(0)
    assert spread[0] == pytest.approx(10.0, rel=1e-6) and spread[1] < 1e-6
