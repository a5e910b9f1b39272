import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from lightning_occ.cli import build_cli, main
from lightning_occ.core.detector import AnomalyDetector

pytestmark = pytest.mark.slow  # trains models or runs the command line: not in the fast lane

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--trainer.enable_progress_bar", "false", "--trainer.logger", "false"]


def test_fit_then_test_from_a_config_writes_the_report(tmp_path, capsys):
    config = ROOT / "configs/ocsdf/two_moons.yaml"
    args = [
        "--config",
        str(config),
        "--trainer.max_epochs",
        "3",
        "--model.init_args.width",
        "16",
        *FAST,
        "--report.out_dir",
        str(tmp_path / "report"),
    ]
    build_cli(["fit", *args])
    checkpoint = Path("results/ocsdf_two_moons/checkpoints/last.ckpt")
    assert checkpoint.is_file()
    build_cli(["test", *args, "--ckpt_path", str(checkpoint)])
    printed = capsys.readouterr().out
    assert "certified AUROC" in printed and "0 (clean)" in printed
    results = json.loads((tmp_path / "report/results.json").read_text())
    assert set(results["metrics"]) == {
        "test/auroc",
        "test/certified_auroc@0.05",
        "test/certified_auroc@0.1",
        "test/certified_auroc@0.2",
    }
    for name in ("certified_auroc.png", "roc_curve.png", "score_histograms.png", "score_field.png"):
        assert (tmp_path / "report" / name).stat().st_size > 1000


METHOD_CONFIGS = sorted(p for p in (ROOT / "configs").rglob("*.yaml") if p.parent.name != "logger")


@pytest.mark.parametrize("config", METHOD_CONFIGS, ids=lambda p: p.stem)
def test_every_config_parses(config):
    cli = build_cli(["--config", str(config), "--trainer.logger", "false", "--trainer.accelerator", "cpu"], run=False)
    assert isinstance(cli.model, AnomalyDetector)
    if cli.datamodule.hparams.get("dataset") in ("breast_cancer", "wine", "two_moons", "digits", "blobs"):
        assert torch.Size(cli.datamodule.input_shape).numel() >= 2  # offline data: load it too


@pytest.mark.parametrize("logger", sorted((ROOT / "configs/logger").glob("*.yaml")), ids=lambda p: p.stem)
def test_logger_configs_combine_with_a_method_config(logger, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    cli = build_cli(["--config", str(ROOT / "configs/knn/breast_cancer.yaml"), "--config", str(logger)], run=False)
    assert type(cli.trainer.logger).__name__ == {"wandb": "WandbLogger", "csv": "CSVLogger"}[logger.stem]


def test_print_config_through_python_m(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "lightning_occ",
            "fit",
            "--config",
            str(ROOT / "configs/ocsdf/breast_cancer.yaml"),
            "--print_config",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    config = yaml.safe_load(out)
    assert config["model"]["class_path"] == "lightning_occ.models.OCSDF"
    assert config["model"]["init_args"]["lam"] == 3.0


def test_unknown_dataset_in_config_is_a_clear_error(tmp_path, capsys, monkeypatch):
    args = ["fit", "--config", str(ROOT / "configs/knn/breast_cancer.yaml"), "--data.init_args.dataset", "breast_cancr"]
    with pytest.raises(SystemExit) as exited:
        main(args)
    error = capsys.readouterr().err
    assert exited.value.code == 2 and "Traceback" not in error
    assert "lightning-occ: error: Unknown dataset 'breast_cancr'. Use a built-in name (breast_cancer," in error
    monkeypatch.setenv("LIGHTNING_OCC_DEBUG", "1")  # the traceback, for whoever needs it
    with pytest.raises(ValueError, match="Unknown dataset 'breast_cancr'"):
        main(args)


def test_a_checkpoint_of_another_method_than_the_config_names_both(tmp_path, capsys):
    from lightning_occ.models import OCSDF
    from tests.helpers.training import tiny_trainer

    model = OCSDF(in_features=30, width=8, depth=1)
    trainer = tiny_trainer()
    trainer.strategy.connect(model)
    trainer.save_checkpoint(tmp_path / "ocsdf.ckpt")
    with pytest.raises(SystemExit) as exited:
        main(
            [
                "test",
                "--config",
                str(ROOT / "configs/knn/breast_cancer.yaml"),
                "--ckpt_path",
                str(tmp_path / "ocsdf.ckpt"),
                "--trainer.logger",
                "false",
            ]
        )
    error = capsys.readouterr().err
    assert exited.value.code == 2 and "Traceback" not in error
    assert "holds a OCSDF model, but the config asks for lightning_occ.models.KNNDetector" in error


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"activation": "relu6"}, "Unknown activation 'relu6'"),
        ({"width": -5}, "width and depth must be >= 1"),
        ({"network": "orthconv"}, "Unknown network 'orthconv'"),
    ],
)
def test_ocsdf_constructor_arguments_are_validated(kwargs, message):
    from lightning_occ.models import OCSDF

    with pytest.raises(ValueError, match=message):
        OCSDF(**kwargs)


@pytest.mark.parametrize("args", [["--help"], ["zoo", "list"]], ids=["help", "zoo-list"])
def test_light_verbs_start_without_torch_or_lightning(args):
    code = (
        "import sys; from lightning_occ.console import main; main(sys.argv[1:]); "
        "heavy = sorted(m for m in ('torch', 'lightning', 'timm', 'matplotlib') if m in sys.modules); "
        "print('HEAVY', heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out
    assert ("usage: lightning-occ" in out) if args == ["--help"] else ("ocsdf-breast-cancer" in out)
