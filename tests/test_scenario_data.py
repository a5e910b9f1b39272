"""ScenarioDataModule: real MNIST counts, real loaders on fake copies of each on-disk format, errors."""

import hashlib
import os
import tarfile
from pathlib import Path

import pytest
import torch

from lightning_occ.data import ScenarioDataModule, vision_sources
from tests.helpers.fake_datasets import (
    write_cifar10,
    write_gtsrb,
    write_image_folder,
    write_mvtec_category,
    write_tiny_imagenet,
)
from tests.helpers.http_server import serve_folder

pytestmark = pytest.mark.slow  # trains models or runs the command line: not in the fast lane

MNIST_ROOT = Path(os.environ.get("LIGHTNING_OCC_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


@pytest.mark.skipif(
    not (MNIST_ROOT / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file(), reason="real MNIST not available"
)
def test_mnist_cur_scenario_counts_on_the_real_data():
    dm = ScenarioDataModule("mnist", normal="CUR", root=str(MNIST_ROOT))
    dm.setup()
    val_normal = int((dm.val_dataset.is_anomaly == 0).sum())
    assert len(dm.train_dataset) + val_normal == 17_905
    assert int((dm.test_dataset.is_anomaly == 0).sum()) == 2_964
    assert int(dm.test_dataset.is_anomaly.sum()) == 7_036
    assert set(dm.train_dataset.sub_labels.unique().tolist()) == {0, 3, 8}
    image, target, sub_label = dm.test_dataset[0]
    assert image.shape == (1, 28, 28) and 0 <= float(image.min()) <= float(image.max()) <= 1


def test_digits_one_class_and_super_category():
    one = ScenarioDataModule("digits", normal=3, seed=1)
    one.setup()
    assert one.train_dataset.sub_labels.unique().tolist() == [3]
    assert (one.val_dataset.is_anomaly == (one.val_dataset.sub_labels != 3).long()).all()
    batch = next(iter(one.train_dataloader()))
    assert batch[0].shape[1:] == (1, 8, 8) and (batch[1] == 0).all()


def test_cifar10_from_fake_pickle_batches(tmp_path):
    write_cifar10(tmp_path)
    dm = ScenarioDataModule("cifar10", normal="THG", root=str(tmp_path), val_size=0.2)
    dm.setup()
    assert dm.input_shape == (3, 32, 32)
    assert set(dm.train_dataset.sub_labels.tolist()) == {0, 1, 8, 9}
    assert len(dm.test_dataset) == 20 and int(dm.test_dataset.is_anomaly.sum()) == 12


def test_gtsrb_through_torchvision_on_fake_files(tmp_path):
    write_gtsrb(tmp_path, per_class=3)
    dm = ScenarioDataModule("gtsrb", normal="REGN", root=str(tmp_path), val_size=0.34)
    dm.setup()
    assert dm.input_shape == (3, 32, 32)
    assert set(dm.train_dataset.sub_labels.tolist()) <= {6, 32, 41, 42}
    normal_test = dm.test_dataset.sub_labels[dm.test_dataset.is_anomaly == 0]
    assert sorted(normal_test.tolist()) == [6, 6, 32, 32, 41, 41, 42, 42]


def test_tiny_imagenet_uses_the_forty_scenario_classes_and_official_val(tmp_path):
    write_tiny_imagenet(tmp_path)
    dm = ScenarioDataModule("tiny_imagenet", normal="VHCL", root=str(tmp_path), val_size=0.34)
    dm.setup()
    assert dm.input_shape == (3, 64, 64)
    assert len(dm.test_dataset) == 80  # 40 classes x 2; the extra class is left out
    assert int((dm.test_dataset.is_anomaly == 0).sum()) == 16


def test_image_folder(tmp_path):
    write_image_folder(tmp_path)
    dm = ScenarioDataModule("image_folder", normal=["dog"], root=str(tmp_path), val_size=0.25)
    dm.setup()
    assert dm.input_shape == (3, 40, 40)  # the native size, shared by every image
    assert int((dm.test_dataset.is_anomaly == 0).sum()) == 4 and len(dm.test_dataset) == 12
    resized = ScenarioDataModule("image_folder", normal=["dog"], root=str(tmp_path), val_size=0.25, image_size=24)
    resized.setup()
    assert resized.input_shape == (3, 24, 24)


def test_unknown_super_category_lists_the_valid_ones():
    with pytest.raises(ValueError, match="Super-categories: CUR, MIX, STR"):
        ScenarioDataModule("digits", normal="CURVY").setup()


def test_class_out_of_range():
    with pytest.raises(ValueError, match="Class 12 is out of range for digits: labels go from 0 to 9"):
        ScenarioDataModule("digits", normal=[1, 12]).setup()


def test_missing_dataset_offline_names_folder_and_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"cifar-10-batches-py[\s\S]*data_batch_1[\s\S]*test_batch"):
        ScenarioDataModule("cifar10", root=str(tmp_path)).setup()
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        ScenarioDataModule("mnist", root=str(tmp_path)).setup()
    with pytest.raises(FileNotFoundError, match="val_annotations.txt"):
        ScenarioDataModule("tiny_imagenet", root=str(tmp_path)).setup()
    with pytest.raises(FileNotFoundError, match="Final_Test"):
        ScenarioDataModule("gtsrb", root=str(tmp_path)).setup()


@pytest.fixture
def cifar_archive_server(tmp_path):
    """A real HTTP server on 127.0.0.1 serving a fake cifar-10-python.tar.gz."""
    source = tmp_path / "source"
    write_cifar10(source)
    archive = tmp_path / "served" / "cifar-10-python.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(source / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    with serve_folder(archive.parent) as base:
        yield f"{base}/{archive.name}", hashlib.md5(archive.read_bytes()).hexdigest()


def test_cifar10_download_and_checksum(tmp_path, monkeypatch, cifar_archive_server):
    url, md5 = cifar_archive_server
    monkeypatch.setattr(vision_sources, "CIFAR10_URL", (url, md5))
    dm = ScenarioDataModule("cifar10", normal="LIV", root=str(tmp_path / "data"), download=True, val_size=0.2)
    dm.prepare_data()
    dm.setup()
    assert len(dm.test_dataset) == 20 and (tmp_path / "data" / "cifar-10-batches-py" / "test_batch").is_file()
    monkeypatch.setattr(vision_sources, "CIFAR10_URL", (url, "0" * 32))
    with pytest.raises(FileNotFoundError, match="failed"):
        ScenarioDataModule("cifar10", root=str(tmp_path / "other"), download=True).setup()


def test_unknown_image_dataset():
    with pytest.raises(ValueError, match="Unknown image dataset 'svhn'"):
        ScenarioDataModule("svhn").setup()
    assert torch.is_tensor(ScenarioDataModule("digits").train_features())


def test_fit_and_test_an_image_scenario_from_its_config(tmp_path, capsys):
    from lightning_occ.cli import build_cli

    config = Path(__file__).resolve().parents[1] / "configs/ocsdf/digits_cur.yaml"
    args = [
        "--config",
        str(config),
        "--trainer.max_epochs",
        "2",
        "--model.init_args.width",
        "32",
        "--trainer.enable_progress_bar",
        "false",
        "--trainer.logger",
        "false",
        "--report.out_dir",
        str(tmp_path / "report"),
    ]
    build_cli(["fit", *args])
    checkpoint = Path("results/ocsdf_digits_cur/checkpoints/last.ckpt")
    build_cli(["test", *args, "--ckpt_path", str(checkpoint)])
    assert "0 (clean)" in capsys.readouterr().out
    grid = tmp_path / "report" / "boundary_samples.png"
    assert grid.stat().st_size > 500
    from PIL import Image

    cell = 8 * 8  # 8x8 digits upscaled 8 times (at least 64 px each), 4-pixel padding
    assert Image.open(grid).size == (8 * cell + 9 * 4, 8 * cell + 9 * 4)


@pytest.mark.parametrize("method", ["OCSDF", "KNNDetector"])
def test_an_mvtec_folder_trains_and_tests_end_to_end(tmp_path, method):
    """train/good only, test/good + two defect folders: every defect is anomalous, validation (all normal)
    is skipped with a warning, and fit + test run through the command line with a report."""
    import json

    from lightning_occ.cli import main

    write_mvtec_category(tmp_path / "bottle")
    model = ["--model", f"lightning_occ.models.{method}"]
    if method == "OCSDF":
        model += [
            "--model.init_args.network",
            "orthoconv",
            "--model.init_args.stem",
            "patches",
            "--model.init_args.channels",
            "[12, 48]",
            "--model.init_args.convs_per_stage",
            "1",
            "--model.init_args.negative_init",
            "uniform",
            "--model.init_args.domain",
            "[0.0, 1.0]",
        ]
    common = [
        *model,
        "--model.init_args.epsilons",
        "[0.1]",
        "--data",
        "lightning_occ.data.ScenarioDataModule",
        "--data.init_args.dataset",
        "image_folder",
        "--data.init_args.root",
        str(tmp_path / "bottle"),
        "--data.init_args.normal",
        "good",
        "--data.init_args.batch_size",
        "8",
        "--trainer.max_epochs",
        "2",
        "--trainer.logger",
        "false",
        "--trainer.enable_progress_bar",
        "false",
        "--trainer.callbacks+=lightning.pytorch.callbacks.ModelCheckpoint",
        "--trainer.callbacks.dirpath",
        str(tmp_path / "checkpoints"),
        "--trainer.callbacks.save_last",
        "true",
        "--report.out_dir",
        str(tmp_path / "report"),
    ]
    with pytest.warns(UserWarning, match="validation split holds no anomaly"):
        main(["fit", *common])
    main(["test", *common, "--ckpt_path", str(tmp_path / "checkpoints" / "last.ckpt")])
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    assert results["n_samples"] == 12 and results["n_anomalies"] == 8
    assert 0.0 <= results["certified_auroc"][1] <= results["certified_auroc"][0] <= 1.0
    # no validation loop, yet a threshold from the (all-normal) validation split, as the default rule allows
    assert results["threshold"] is not None and "FPR" in results["threshold_rule"]


def test_image_folders_of_mixed_sizes_need_an_image_size(tmp_path):
    write_mvtec_category(tmp_path, size=16)
    from PIL import Image

    Image.new("RGB", (20, 12)).save(tmp_path / "test" / "crack" / "odd.png")
    with pytest.raises(ValueError, match="different sizes .*pass image_size"):
        ScenarioDataModule("image_folder", normal="good", root=str(tmp_path)).setup()
    resized = ScenarioDataModule("image_folder", normal="good", root=str(tmp_path), image_size=8)
    resized.setup()
    assert resized.input_shape == (3, 8, 8)
