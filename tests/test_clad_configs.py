"""Every CLAD config (MNIST, CIFAR-10, GTSRB, Tiny-ImageNet) fits and tests end to end on fake copies
of its dataset in the exact on-disk format, with the schedule shortened to one epoch per stage and the networks
narrowed."""

from functools import partial
from pathlib import Path

import pytest

from lightning_occ.cli import build_cli
from tests.helpers.fake_datasets import write_cifar10, write_gtsrb, write_mnist, write_tiny_imagenet

pytestmark = pytest.mark.slow  # trains models or runs the command line: not in the fast lane

ROOT = Path(__file__).resolve().parents[1]
WRITERS = {
    "mnist_cur": write_mnist,
    "cifar10_thg": write_cifar10,
    "gtsrb_spdl": partial(write_gtsrb, per_class=5),
    "tiny_imagenet_anml": partial(write_tiny_imagenet, per_class=4),
}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", sorted(WRITERS))
def test_clad_config_runs_end_to_end_on_fake_data(name, tmp_path):
    WRITERS[name](tmp_path / "data")
    config = str(ROOT / "configs" / "clad" / f"{name}.yaml")
    args = [
        "--config",
        config,
        "--data.init_args.root",
        str(tmp_path / "data"),
        "--data.init_args.batch_size",
        "16",
        "--data.init_args.val_size",
        "0.25",
        "--trainer.enable_progress_bar",
        "false",
        "--trainer.logger",
        "false",
        "--report.out_dir",
        str(tmp_path / "report"),
    ]
    short = [
        "--model.init_args.ae_epochs",
        "1",
        "--model.init_args.dec_epochs",
        "1",
        "--model.init_args.classifier_epochs",
        "1",
        "--trainer.max_epochs",
        "3",
        # the config's networks at a fraction of their width: same layers, input sizes and stems
        "--model.init_args.ae_channels",
        "[8, 8]",
        "--model.init_args.latent_dim",
        "8",
        "--model.init_args.classifier_kwargs",
        "{channels: [8, 16, 16, 16]}",
    ]
    fit = build_cli(["fit", *args, *short])
    assert fit.model.stage == "done" and int(fit.model.classifier_steps) > 0
    checkpoint = next(Path("results").rglob("last.ckpt"))
    tested = build_cli(["test", *args, "--ckpt_path", str(checkpoint)])
    assert 0.0 <= float(tested.trainer.callback_metrics["test/auroc"]) <= 1.0
    assert (tmp_path / "report" / "results.json").exists()
