"""W&B logging read back from an offline run, fail-fast checks for online W&B and strategy names."""

import os
import socket
from pathlib import Path

import pytest

from lightning_occ.cli import build_cli
from tests.helpers.wandb_offline import offline_run_contents

pytestmark = pytest.mark.slow  # trains models or runs the command line: not in the fast lane

ROOT = Path(__file__).resolve().parents[1]
KNN = ["--config", str(ROOT / "configs/knn/breast_cancer.yaml"), "--trainer.enable_progress_bar", "false"]
WANDB = ["--config", str(ROOT / "configs/logger/wandb.yaml")]


def test_offline_wandb_run_holds_the_returned_test_metrics(tmp_path, monkeypatch):
    import wandb

    wandb.finish()  # no run left open by an earlier test may capture this logger
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("WANDB_SILENT", "true")
    # the README's offline command, as written (plus a private save_dir and report folder)
    args = [
        *KNN,
        *WANDB,
        "--trainer.logger.init_args.offline",
        "true",
        "--trainer.logger.init_args.save_dir",
        str(tmp_path / "wandb"),
        "--report.out_dir",
        str(tmp_path / "report"),
    ]
    build_cli(["fit", *args])
    cli = build_cli(["test", *args, "--ckpt_path", "results/knn_breast_cancer/checkpoints/last.ckpt"])
    returned = {k: float(v) for k, v in cli.trainer.callback_metrics.items()}
    wandb.finish()
    summary, history, config = offline_run_contents(tmp_path / "wandb")
    assert {"test/auroc", "test/certified_auroc@0.25", "test/certified_auroc@1"} <= set(summary)
    for name in ("test/auroc", "test/certified_auroc@0.1", "test/certified_auroc@0.5"):
        assert summary[name] == pytest.approx(returned[name], abs=1e-7)
    assert summary["test/certified_auroc_curve/_type"] == "table-file"
    assert summary["test/certified_auroc/_type"] == "images/separated"  # the curve PNG
    assert any("val/auroc" in row for row in history)
    assert config["k"] == 5 and config["dataset"] == "breast_cancer"


def test_online_wandb_without_credentials_fails_before_training(tmp_path, monkeypatch):
    for name in ("WANDB_API_KEY", "WANDB_MODE", "WANDB_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc
    with pytest.raises(RuntimeError, match="no API key.*wandb login.*offline true"):
        build_cli(["fit", *KNN, *WANDB, "--trainer.logger.init_args.save_dir", str(tmp_path)])
    assert not Path("results/knn_breast_cancer/checkpoints").exists()  # nothing ran


def test_online_wandb_without_network_fails_fast(tmp_path, monkeypatch):
    with socket.socket() as probe:  # a port on 127.0.0.1 that nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    monkeypatch.setenv("WANDB_BASE_URL", f"http://127.0.0.1:{port}")
    with pytest.raises(RuntimeError, match="cannot be reached"):
        build_cli(["fit", *KNN, *WANDB, "--trainer.logger.init_args.save_dir", str(tmp_path)])


def test_unknown_strategy_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"Unknown strategy 'ddpp'.*ddp, .*ddp_spawn"):
        build_cli(["fit", *KNN, "--trainer.strategy", "ddpp"])


def test_a_wandb_logger_without_wandb_installed_names_the_extra(tmp_path):
    """A real interpreter in which `import wandb` fails (a meta-path finder refuses it), as after
    `pip install lightning-occ` without the [wandb] extra."""
    import subprocess
    import sys

    (tmp_path / "sitecustomize.py").write_text(
        "import sys\n"
        "class NoWandb:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'wandb' or name.startswith('wandb.'):\n"
        "            raise ModuleNotFoundError(\"No module named 'wandb'\")\n"
        "sys.meta_path.insert(0, NoWandb())\n"
    )
    root = Path(__file__).resolve().parents[1]
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "lightning_occ",
            "fit",
            "--config",
            str(root / "configs/knn/breast_cancer.yaml"),
            "--config",
            str(root / "configs/logger/wandb.yaml"),
            "--trainer.default_root_dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": f"{tmp_path}:{root}"},
        timeout=300,
    )
    assert run.returncode == 2, run.stderr
    lines = [line for line in run.stderr.splitlines() if line.startswith("lightning-occ: error")]
    assert len(lines) == 1 and "pip install 'lightning-occ[wandb]'" in lines[0], run.stderr
    assert "Traceback" not in run.stderr
