"""PyOD detectors inside lightning-occ: trained on the DataModule, tested, certified by smoothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lightning_occ.cli import main
from lightning_occ.core.checkpoints import load_detector
from lightning_occ.models import PyODDetector
from lightning_occ.models.pyod.lightning_model import pyod_class

pytestmark = pytest.mark.slow  # trains models or runs the command line: not in the fast lane

ROOT = Path(__file__).resolve().parents[1]
QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.logger", "false"]


def test_a_pyod_detector_is_fitted_tested_and_certified_from_the_command_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    config = str(ROOT / "configs/pyod/lof_digits_cur.yaml")
    main(["fit", "--config", config, *QUIET])
    checkpoint = tmp_path / "results/pyod_lof_digits_cur/checkpoints/last.ckpt"
    reloaded = load_detector(checkpoint)
    assert isinstance(reloaded, PyODDetector) and reloaded.hparams.detector == "LOF"
    capsys.readouterr()
    main(
        [
            "certify",
            "--config",
            config,
            *QUIET,
            "--ckpt_path",
            str(checkpoint),
            "--certifier.sigma",
            "0.25",
            "--certifier.n",
            "200",
            "--certifier.alpha",
            "0.01",
            "--epsilons",
            "[0.05, 0.1]",
            "--report.out_dir",
            "certify",
        ]
    )
    assert "percentile smoothing" in capsys.readouterr().out
    results = json.loads((tmp_path / "certify" / "results.json").read_text())
    clean, *certified = results["certified_auroc"]
    assert 0.5 < clean <= 1 and 0 <= certified[1] <= certified[0] <= clean  # smoothed scores rank worse than raw


def test_unknown_names_suggest_close_ones():
    with pytest.raises(ValueError, match="Did you mean IForest"):
        pyod_class("IForrest")


def test_the_checkpoint_refits_the_same_detector():
    x = torch.randn(50, 3, generator=torch.Generator().manual_seed(0))
    detector = PyODDetector("IForest", {"n_estimators": 20})
    detector.fit_data(x)
    copy = PyODDetector("IForest", {"n_estimators": 20})
    copy.load_state_dict(detector.state_dict())
    assert torch.equal(copy.score(x), detector.score(x))


def test_without_pyod_installed_the_error_names_the_extra(tmp_path):
    (tmp_path / "sitecustomize.py").write_text(
        "import sys\n"
        "class NoPyOD:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'pyod' or name.startswith('pyod.'):\n"
        "            raise ModuleNotFoundError(\"No module named 'pyod'\")\n"
        "sys.meta_path.insert(0, NoPyOD())\n"
    )
    run = subprocess.run(
        [sys.executable, "-m", "lightning_occ", "fit", "--config", str(ROOT / "configs/pyod/knn_digits_cur.yaml")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": f"{tmp_path}:{ROOT}"},
        timeout=300,
    )
    assert run.returncode == 2, run.stderr
    assert "pip install 'lightning-occ[pyod]'" in run.stderr and "Traceback" not in run.stderr
